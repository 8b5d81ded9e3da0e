/**
 * The four rounds end to end: the unmasked sum is exactly the sum of the quantised updates of
 * the survivors, with clients dropping after sharing keys or after uploading; too few clients
 * at any stage is a clear refusal; a client never reveals both kinds of share of one peer.
 */
import { describe, expect, it } from 'vitest';
import { addInto, dequantizeSum, quantize, sumErrorBound } from '../../shared/secagg/index.ts';
import { createRng } from '../../shared/util/random.ts';
import {
  clientId,
  expectCode,
  roundConfig,
  runRound,
  runUntilUnmask,
  type RoundSetup,
} from './round.ts';

const LENGTH = 3000;

function updates(clients: number, seed = 7, spread = 1.2): Float32Array[] {
  const rng = createRng(seed);
  return Array.from({ length: clients }, () =>
    Float32Array.from({ length: LENGTH }, () => rng.uniform(-spread, spread)),
  );
}

/** The exact sum mod 2^32 of the included clients' quantised updates. */
function quantisedSum(setup: RoundSetup, included: number[]): Uint32Array {
  const { quantization } = roundConfig(setup);
  const sum = new Uint32Array(LENGTH);
  for (const i of included) addInto(sum, quantize([setup.updates[i]], LENGTH, quantization).values);
  return sum;
}

describe('secure aggregation round', () => {
  it('unmasks exactly the sum of the quantised updates, and the float sum within the bound', () => {
    const setup = { clients: 5, threshold: 3, updates: updates(5) };
    const { result, config } = runRound(setup);
    expect(result.survivors).toEqual([0, 1, 2, 3, 4].map(clientId));
    expect(result.dropped).toEqual([]);
    expect(Array.from(result.sum)).toEqual(Array.from(quantisedSum(setup, [0, 1, 2, 3, 4])));

    const floats = dequantizeSum(result.sum, config.quantization);
    const bound = sumErrorBound(config.quantization, 5);
    let worst = 0;
    for (let j = 0; j < LENGTH; j++) {
      let plain = 0;
      for (const update of setup.updates) plain += Math.max(-1, Math.min(1, update[j]));
      worst = Math.max(worst, Math.abs(floats[j] - plain));
    }
    expect(worst).toBeLessThanOrEqual(bound);
    expect(bound).toBeLessThan(1e-8);
  });

  it('keeps the sum within the bound with stochastic rounding', () => {
    const setup: RoundSetup = {
      clients: 3,
      threshold: 2,
      updates: updates(3, 11, 0.9),
      quantization: { rounding: 'stochastic', clip: 1 },
    };
    const { result, config } = runRound(setup);
    const floats = dequantizeSum(result.sum, config.quantization);
    const bound = sumErrorBound(config.quantization, 3);
    for (let j = 0; j < LENGTH; j++) {
      const plain = setup.updates[0][j] + setup.updates[1][j] + setup.updates[2][j];
      expect(Math.abs(floats[j] - plain)).toBeLessThan(bound);
    }
  });

  it("recovers the others' sum when a client drops after sharing keys, before uploading", () => {
    const setup = { clients: 5, threshold: 3, updates: updates(5), dropAfterShare: [2] };
    const { result } = runRound(setup);
    expect(result.dropped).toEqual([clientId(2)]);
    expect(result.survivors).toEqual([0, 1, 3, 4].map(clientId));
    expect(Array.from(result.sum)).toEqual(Array.from(quantisedSum(setup, [0, 1, 3, 4])));
  });

  it('counts a client that uploaded and then stopped answering, when t others answer', () => {
    const setup = { clients: 5, threshold: 3, updates: updates(5), dropAfterUpload: [4] };
    const { result } = runRound(setup);
    expect(result.survivors).toContain(clientId(4));
    expect(result.answered).not.toContain(clientId(4));
    expect(Array.from(result.sum)).toEqual(Array.from(quantisedSum(setup, [0, 1, 2, 3, 4])));
  });

  it('handles both kinds of dropout in one round', () => {
    const setup = {
      clients: 5,
      threshold: 3,
      updates: updates(5),
      dropAfterShare: [0],
      dropAfterUpload: [3],
    };
    const { result } = runRound(setup);
    expect(result.dropped).toEqual([clientId(0)]);
    expect(result.answered).toEqual([1, 2, 4].map(clientId));
    expect(Array.from(result.sum)).toEqual(Array.from(quantisedSum(setup, [1, 2, 3, 4])));
  });

  it('catches a wrong share with exactly t answers', () => {
    const setup = { clients: 4, threshold: 3, updates: updates(4), dropAfterShare: [3] };
    const run = runUntilUnmask(setup);
    const answers = run.uploaded.map((client) => client.unmask(run.request));
    const bad = structuredClone(answers[1]);
    const y = Buffer.from(bad.selfMaskShares[0].y, 'base64url');
    y[65] ^= 1;
    bad.selfMaskShares[0].y = y.toString('base64url');
    [answers[0], bad, answers[2]].forEach((answer) => run.server.receiveUnmaskResponse(answer));
    const error = expectCode(() => run.server.result(), 'reconstruction-failed');
    expect(error.message).toMatch(/self mask rebuilt for hospital-1 does not match/);
  });

  it("catches a wrong share of a dropped client's key with exactly t answers", () => {
    const setup = { clients: 4, threshold: 3, updates: updates(4), dropAfterShare: [3] };
    const run = runUntilUnmask(setup);
    const answers = run.uploaded.map((client) => client.unmask(run.request));
    const bad = structuredClone(answers[2]);
    const y = Buffer.from(bad.maskKeyShares[0].y, 'base64url');
    y[65] ^= 1;
    bad.maskKeyShares[0].y = y.toString('base64url');
    [answers[0], answers[1], bad].forEach((answer) => run.server.receiveUnmaskResponse(answer));
    const error = expectCode(() => run.server.result(), 'reconstruction-failed');
    expect(error.message).toMatch(/key reconstructed for hospital-4 is not its own/);
  });

  it('refuses to go on with fewer than t masked inputs', () => {
    const setup = { clients: 3, threshold: 2, updates: updates(3), dropAfterShare: [0, 1] };
    const error = expectCode(() => runRound(setup), 'below-threshold');
    expect(error.message).toMatch(/1 masked inputs arrived, fewer than the threshold t = 2/);
  });

  it('refuses to unmask with fewer than t answers', () => {
    const setup = { clients: 3, threshold: 2, updates: updates(3), dropAfterUpload: [0, 2] };
    expectCode(() => runRound(setup), 'below-threshold');
  });

  it('refuses a roster of fewer than t clients', () => {
    const setup = { clients: 2, threshold: 3, updates: updates(2) };
    expectCode(() => runRound({ ...setup, quantization: { maxClients: 3 } }), 'below-threshold');
  });
});

describe('a client during unmasking', () => {
  const request = {
    protocol: 'fedxray-secagg-v1' as const,
    round: 'run-1:1',
    survivors: [0, 1, 2].map(clientId),
    dropped: [clientId(3)],
  };
  /** Four clients, the fourth dropped before uploading: the request names it as dropped. */
  const uploaded = () =>
    runUntilUnmask({ clients: 4, threshold: 3, updates: updates(4), dropAfterShare: [3] });

  it('answers the honest request', () => {
    const run = uploaded();
    expect(run.request).toEqual(request);
    const answer = run.clients[0].unmask(run.request);
    expect(answer.selfMaskShares.map((share) => share.owner)).toEqual(request.survivors);
    expect(answer.maskKeyShares.map((share) => share.owner)).toEqual(request.dropped);
  });

  it('refuses to reveal both kinds of share of the same peer', () => {
    const [client] = uploaded().clients;
    const both = { ...request, dropped: [clientId(1), clientId(3)] };
    const error = expectCode(() => client.unmask(both), 'conflicting-request');
    expect(error.message).toMatch(/both shares of hospital-2/);
  });

  it('answers a retried request the same, and refuses a second, different one', () => {
    const [client] = uploaded().clients;
    const first = client.unmask(request);
    expect(client.unmask({ ...request })).toEqual(first);
    // Now claiming client 3 dropped would yield its s^SK share on top of its b share.
    const second = { ...request, survivors: [0, 1].map(clientId), dropped: [2, 3].map(clientId) };
    expectCode(() => client.unmask(second), 'conflicting-request');
  });

  it('refuses a request that leaves out a client that shared keys', () => {
    const [client] = uploaded().clients;
    expectCode(() => client.unmask({ ...request, dropped: [] }), 'bad-message');
  });

  it('refuses unmasking before an upload, and a masked input after the unmask request', () => {
    const run = uploaded();
    const late = run.clients[3];
    expectCode(() => late.unmask(run.request), 'out-of-order');
    const { input } = late.maskedInput(run.inboxes.get(late.clientId)!, [updates(4)[3]]);
    const error = expectCode(() => run.server.receiveMaskedInput(input), 'out-of-order');
    expect(error.message).toMatch(/cannot take masked inputs at stage unmask/);
  });

  it('refuses a roster whose threshold is below a majority', () => {
    expectCode(() => runRound({ clients: 5, threshold: 2, updates: updates(5) }), 'bad-config');
  });
});
