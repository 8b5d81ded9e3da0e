/**
 * Every JSON message of a round, sent through JSON.stringify and back, fits its TypeBox
 * schema and parses to the message type the client and server take; a malformed one is a
 * bad-message refusal.
 */
import { describe, expect, it } from 'vitest';
import {
  AdvertiseKeysSchema,
  MaskedInputHeaderSchema,
  RosterSchema,
  SecAggClient,
  SecAggServer,
  ShareInboxSchema,
  ShareKeysSchema,
  UnmaskRequestSchema,
  UnmaskResponseSchema,
  dequantizeSum,
  parseMessage,
  seededRandom,
  type AdvertiseKeys,
  type MaskedInputHeader,
  type Roster,
  type ShareInbox,
  type ShareKeys,
  type UnmaskRequest,
  type UnmaskResponse,
} from '../../shared/secagg/index.ts';
import { authKeyOf, clientId, roundConfig } from './round.ts';

const wire = <T>(value: T): unknown => JSON.parse(JSON.stringify(value));

describe('message schemas', () => {
  it('carry a whole round through JSON', () => {
    const round = 'run-9:3';
    const config = roundConfig({ clients: 3, threshold: 2, updates: [new Float32Array(8)], round });
    const server = new SecAggServer({ config, authKey: authKeyOf });
    const random = seededRandom('schemas');
    const clients = [0, 1, 2].map(
      (i) =>
        new SecAggClient({ clientId: clientId(i), round, authKey: authKeyOf(clientId(i)), random }),
    );
    for (const client of clients) {
      const keys: AdvertiseKeys = parseMessage(
        AdvertiseKeysSchema,
        wire(client.advertiseKeys()),
        'keys',
      );
      server.receiveAdvertiseKeys(keys);
    }
    const roster: Roster = parseMessage(RosterSchema, wire(server.rosterMessage()), 'roster');
    for (const client of clients) {
      const shares: ShareKeys = parseMessage(
        ShareKeysSchema,
        wire(client.shareKeys(roster)),
        'shares',
      );
      server.receiveShareKeys(shares);
    }
    const inboxes = server.shareInboxes();
    for (const [i, client] of clients.entries()) {
      const inbox: ShareInbox = parseMessage(ShareInboxSchema, wire(inboxes[i]), 'inbox');
      const { input } = client.maskedInput(inbox, [new Float32Array(8).fill(0.125)]);
      const header: MaskedInputHeader = parseMessage(
        MaskedInputHeaderSchema,
        wire(input.header),
        'header',
      );
      server.receiveMaskedInput({ header, values: input.values });
    }
    const request: UnmaskRequest = parseMessage(
      UnmaskRequestSchema,
      wire(server.unmaskRequest()),
      'request',
    );
    for (const client of clients) {
      const answer: UnmaskResponse = parseMessage(
        UnmaskResponseSchema,
        wire(client.unmask(request)),
        'answer',
      );
      server.receiveUnmaskResponse(answer);
    }
    const floats = dequantizeSum(server.result().sum, config.quantization);
    for (const x of floats) expect(x).toBeCloseTo(0.375, 8);
  });

  it('refuse a malformed message with the path of the first error', () => {
    const bad = {
      protocol: 'fedxray-secagg-v1',
      round: 'r',
      clientId: 'a',
      maskPublicKey: 'short',
      encryptionPublicKey: 'A'.repeat(43),
    };
    expect(() => parseMessage(AdvertiseKeysSchema, bad, 'the advertised keys')).toThrow(
      /the advertised keys is malformed \(\/maskPublicKey/,
    );
  });
});
