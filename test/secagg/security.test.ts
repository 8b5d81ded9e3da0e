/**
 * What the server stores and what it refuses: a masked input looks uniform (chi-square of
 * byte frequencies, per-bit balance; fixed seeds, thresholds many standard deviations out, so
 * the test cannot flake), identical inputs mask differently, a masked input replayed from
 * another round or truncated is refused, and a tampered or redirected share fails AES-GCM.
 */
import { describe, expect, it } from 'vitest';
import {
  SecAggClient,
  SecAggServer,
  decodeMaskedInput,
  encodeMaskedInput,
  quantize,
  seededRandom,
  type MaskedInput,
  type ShareInbox,
} from '../../shared/secagg/index.ts';
import { authKeyOf, clientId, expectCode, roundConfig, type RoundSetup } from './round.ts';

const LENGTH = 16384;

/** A round up to the masked inputs, returned unsent so tests can tamper with them. */
function stagedRound(round: string, update: Float32Array, seed = round) {
  const setup: RoundSetup = { clients: 3, threshold: 2, updates: [update], round };
  const config = roundConfig(setup);
  config.quantization.maxClients = 3;
  const random = seededRandom(seed);
  const server = new SecAggServer({ config, authKey: authKeyOf });
  const clients = [0, 1, 2].map(
    (i) =>
      new SecAggClient({ clientId: clientId(i), round, authKey: authKeyOf(clientId(i)), random }),
  );
  clients.forEach((client) => server.receiveAdvertiseKeys(client.advertiseKeys()));
  const roster = server.rosterMessage();
  clients.forEach((client) => server.receiveShareKeys(client.shareKeys(roster)));
  const inboxes = server.shareInboxes();
  const mask = (i: number, inbox: ShareInbox = inboxes[i]): MaskedInput =>
    clients[i].maskedInput(inbox, [update]).input;
  return { server, clients, inboxes, mask, config };
}

function chiSquareOfBytes(words: Uint32Array): number {
  const bytes = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
  const counts = new Float64Array(256);
  for (const byte of bytes) counts[byte]++;
  const expected = bytes.length / 256;
  return counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
}

/** The largest |z| over the 32 bit positions of the count of ones. */
function worstBitZ(words: Uint32Array): number {
  let worst = 0;
  for (let bit = 0; bit < 32; bit++) {
    let ones = 0;
    for (const word of words) ones += (word >>> bit) & 1;
    worst = Math.max(worst, Math.abs(ones - words.length / 2) / Math.sqrt(words.length / 4));
  }
  return worst;
}

describe("the server's view of a masked input", () => {
  // A maximally structured input: every coordinate the same.
  const constant = new Float32Array(LENGTH).fill(0.25);

  it('is statistically indistinguishable from uniform', () => {
    const { mask, config } = stagedRound('run-1:1', constant);
    const stored = mask(0).values;
    // 65,536 bytes in 256 bins: chi-square with 255 degrees of freedom has mean 255 and
    // standard deviation 22.6; 400 is 6.4 standard deviations out.
    expect(chiSquareOfBytes(stored)).toBeLessThan(400);
    expect(worstBitZ(stored)).toBeLessThan(6);
    // The same statistics see the unmasked quantised input at once.
    const plain = quantize([constant], LENGTH, config.quantization).values;
    expect(chiSquareOfBytes(plain)).toBeGreaterThan(10_000);
    expect(worstBitZ(plain)).toBeGreaterThan(100);
  });

  it('differs between clients with identical inputs, and between rounds', () => {
    const first = stagedRound('run-1:1', constant);
    const a = first.mask(0).values;
    const b = first.mask(1).values;
    const again = stagedRound('run-1:2', constant, 'run-1:1').mask(0).values;
    for (const other of [b, again]) {
      let equal = 0;
      for (let i = 0; i < LENGTH; i++) if (a[i] === other[i]) equal++;
      // Two uniform words agree with probability 2^-32.
      expect(equal).toBeLessThanOrEqual(2);
    }
  });
});

describe('masked inputs the server refuses', () => {
  const update = new Float32Array(LENGTH).fill(-0.5);

  it('refuses a masked input replayed from another round', () => {
    const earlier = stagedRound('run-1:1', update).mask(0);
    const { server } = stagedRound('run-1:2', update);
    const error = expectCode(() => server.receiveMaskedInput(earlier), 'wrong-round');
    expect(error.message).toMatch(/round "run-1:1", this is round "run-1:2"/);
    // Relabelled with the current round, its MAC no longer matches.
    const relabelled = { ...earlier, header: { ...earlier.header, round: 'run-1:2' } };
    expectCode(() => server.receiveMaskedInput(relabelled), 'authentication-failed');
  });

  it('refuses a truncated masked input, on the wire too', () => {
    const { server, mask } = stagedRound('run-1:1', update);
    const input = mask(0);
    const cut = { ...input, values: input.values.subarray(0, LENGTH - 1) };
    const error = expectCode(() => server.receiveMaskedInput(cut), 'length-mismatch');
    expect(error.message).toMatch(/truncated: 16383 of the 16384 coordinates/);
    const wire = encodeMaskedInput(input);
    const cutWire = decodeMaskedInput(wire.subarray(0, wire.length - 6));
    expectCode(() => server.receiveMaskedInput(cutWire), 'length-mismatch');
    const relabelled = { ...cut, header: { ...cut.header, length: LENGTH - 1 } };
    expectCode(() => server.receiveMaskedInput(relabelled), 'length-mismatch');
    // The intact message still goes through, once.
    server.receiveMaskedInput(decodeMaskedInput(wire));
    expectCode(() => server.receiveMaskedInput(input), 'duplicate');
  });

  it('refuses bytes that are not a masked input', () => {
    expectCode(() => decodeMaskedInput(Buffer.from('not a masked input')), 'bad-message');
    const header = Buffer.from('{"round":"r"}');
    const length = Buffer.alloc(4);
    length.writeUInt32LE(header.length);
    const body = Buffer.concat([Buffer.from('FXSA'), length, header]);
    expectCode(() => decodeMaskedInput(body), 'bad-message');
    expectCode(() => decodeMaskedInput(body.subarray(0, 10)), 'bad-message');
  });

  it('refuses a masked input whose words were changed, or under another MAC key', () => {
    const { server, mask } = stagedRound('run-1:1', update);
    const input = mask(0);
    const changed = { ...input, values: Uint32Array.from(input.values) };
    changed.values[5] ^= 1;
    expectCode(() => server.receiveMaskedInput(changed), 'authentication-failed');
    const other = mask(1);
    const stolen = { ...other, header: { ...other.header, clientId: clientId(2) } };
    expectCode(() => server.receiveMaskedInput(stolen), 'authentication-failed');
  });

  it('refuses a client that is not in the run', () => {
    const round = 'run-1:1';
    const config = roundConfig({ clients: 3, threshold: 2, updates: [update], round });
    const server = new SecAggServer({
      config,
      authKey: (id) => (id === 'intruder' ? undefined : authKeyOf(id)),
    });
    const intruder = new SecAggClient({ clientId: 'intruder', round, authKey: Buffer.from('x') });
    expectCode(() => server.receiveAdvertiseKeys(intruder.advertiseKeys()), 'unknown-client');
  });
});

describe('encrypted shares', () => {
  const update = new Float32Array(64);

  it('refuses a tampered share with an AES-GCM authentication error', () => {
    const { inboxes, mask } = stagedRound('run-1:1', update);
    const inbox = structuredClone(inboxes[0]);
    const sealed = Buffer.from(inbox.shares[0].ciphertext, 'base64url');
    sealed[10] ^= 0x80;
    inbox.shares[0].ciphertext = sealed.toString('base64url');
    const error = expectCode(() => mask(0, inbox), 'authentication-failed');
    expect(error.message).toMatch(/fails AES-GCM authentication/);
  });

  it('refuses a share replayed from another round', () => {
    const earlier = stagedRound('run-1:1', update, 'same-seed');
    const now = stagedRound('run-1:2', update, 'same-seed');
    const inbox = structuredClone(now.inboxes[0]);
    inbox.shares[0] = earlier.inboxes[0].shares[0];
    expectCode(() => now.mask(0, inbox), 'authentication-failed');
  });

  it('refuses a share redirected to another recipient', () => {
    const { inboxes, mask } = stagedRound('run-1:1', update);
    // hospital-3's share for hospital-2, relabelled for hospital-1.
    const forTwo = inboxes[1].shares.find((share) => share.sender === clientId(2))!;
    const inbox = structuredClone(inboxes[0]);
    const slot = inbox.shares.findIndex((share) => share.sender === clientId(2));
    inbox.shares[slot] = { ...forTwo, recipient: clientId(0) };
    expectCode(() => mask(0, inbox), 'authentication-failed');
  });
});
