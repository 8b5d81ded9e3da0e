/**
 * Drives one secure-aggregation round in memory for the tests: n clients, some of which stop
 * after sharing keys (never upload) or after uploading (never answer the unmask request).
 */
import { expect } from 'vitest';
import {
  SecAggClient,
  SecAggError,
  SecAggServer,
  seededRandom,
  type AggregateResult,
  type QuantizationParams,
  type RoundConfig,
  type ShareInbox,
  type UnmaskRequest,
} from '../../shared/secagg/index.ts';

export interface RoundSetup {
  clients: number;
  threshold: number;
  /** SecAgg+ degree k; absent, the complete graph. */
  neighbours?: number;
  updates: Float32Array[];
  round?: string;
  quantization?: Partial<QuantizationParams>;
  /** Clients (by index 0..n-1) that share keys, then never send a masked input. */
  dropAfterShare?: number[];
  /** Clients that send their masked input, then never answer the unmask request. */
  dropAfterUpload?: number[];
  seed?: string;
}

export const clientId = (i: number): string => `hospital-${i + 1}`;
export const authKeyOf = (id: string): Buffer => Buffer.from(`auth-key-of-${id}`);

export function roundConfig(setup: RoundSetup): RoundConfig {
  return {
    round: setup.round ?? 'run-1:1',
    threshold: setup.threshold,
    ...(setup.neighbours === undefined ? {} : { neighbours: setup.neighbours }),
    vectorLength: setup.updates[0].length,
    quantization: {
      clip: 1,
      maxClients: setup.clients,
      rounding: 'deterministic',
      ...setup.quantization,
    },
  };
}

export interface UploadedRound {
  server: SecAggServer;
  clients: SecAggClient[];
  /** The clients whose masked input the server took. */
  uploaded: SecAggClient[];
  request: UnmaskRequest;
  config: RoundConfig;
  inboxes: Map<string, ShareInbox>;
}

export interface RoundRun extends UploadedRound {
  result: AggregateResult;
}

/** Stages 0 to 2, and the server's unmask request. */
export function runUntilUnmask(setup: RoundSetup): UploadedRound {
  const config = roundConfig(setup);
  const random = seededRandom(setup.seed ?? 'round');
  const server = new SecAggServer({ config, authKey: authKeyOf });
  const clients = Array.from(
    { length: setup.clients },
    (_, i) =>
      new SecAggClient({
        clientId: clientId(i),
        round: config.round,
        authKey: authKeyOf(clientId(i)),
        random,
      }),
  );
  for (const client of clients) server.receiveAdvertiseKeys(client.advertiseKeys());
  const roster = server.rosterMessage();
  for (const client of clients) server.receiveShareKeys(client.shareKeys(roster));
  const inboxes = new Map(server.shareInboxes().map((inbox) => [inbox.recipient, inbox]));
  const uploaded = clients.filter((_, i) => !setup.dropAfterShare?.includes(i));
  for (const client of uploaded) {
    const i = clients.indexOf(client);
    const { input } = client.maskedInput(inboxes.get(client.clientId)!, [setup.updates[i]]);
    server.receiveMaskedInput(input);
  }
  return { server, clients, uploaded, request: server.unmaskRequest(), config, inboxes };
}

export function runRound(setup: RoundSetup): RoundRun {
  const run = runUntilUnmask(setup);
  for (const client of run.uploaded) {
    if (setup.dropAfterUpload?.includes(run.clients.indexOf(client))) continue;
    run.server.receiveUnmaskResponse(client.unmask(run.request));
  }
  return { ...run, result: run.server.result() };
}

/** Runs `run` and answers the SecAggError it threw with `code`; fails if it did not throw. */
export function expectCode(run: () => unknown, code: string): SecAggError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SecAggError);
    expect((error as SecAggError).code).toBe(code);
    return error as SecAggError;
  }
  throw new Error(`expected a ${code} refusal`);
}
