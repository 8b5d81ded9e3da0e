/**
 * The building blocks alone: quantisation at its overflow edge, Shamir sharing, pairwise keys
 * and the mask generator.
 */
import { describe, expect, it } from 'vitest';
import { generateKeyPair, pairwiseKey } from '../../shared/secagg/keys.ts';
import { applyMask, expandSeed } from '../../shared/secagg/prg.ts';
import {
  SecAggError,
  addInto,
  dequantizeSum,
  maxMagnitude,
  quantize,
  seededRandom,
  type QuantizationParams,
} from '../../shared/secagg/index.ts';
import { combineShares, splitSecret } from '../../shared/secagg/shamir.ts';

describe('quantisation', () => {
  it('sums n clients at +B or -B without overflow', () => {
    for (const maxClients of [1, 3, 5, 1000]) {
      const params: QuantizationParams = { clip: 2.5, maxClients, rounding: 'deterministic' };
      const top = quantize([new Float32Array([2.5, -2.5, 9, -9])], 4, params);
      expect(top.clipped).toBe(2);
      const sum = new Uint32Array(4);
      for (let i = 0; i < maxClients; i++) addInto(sum, top.values);
      const floats = dequantizeSum(sum, params);
      expect(Array.from(floats)).toEqual([2.5, -2.5, 2.5, -2.5].map((x) => x * maxClients));
      expect(maxClients * maxMagnitude(params)).toBeLessThanOrEqual(2 ** 31 - 1);
    }
  });

  it('reads the update tensor by tensor and insists on the length', () => {
    const params: QuantizationParams = { clip: 1, maxClients: 2, rounding: 'deterministic' };
    const chunks = [new Float32Array([0.5]), new Float32Array([-0.25, 0])];
    const { values } = quantize(chunks, 3, params);
    expect(Array.from(dequantizeSum(values, params))).toEqual(
      [0.5, -0.25, 0].map((x) => expect.closeTo(x, 8)),
    );
    expect(() => quantize(chunks, 4, params)).toThrow(/has 3 coordinates, expected 4/);
    expect(() => quantize(chunks, 2, params)).toThrow(SecAggError);
    expect(() => quantize([new Float32Array([NaN])], 1, params)).toThrow(/not finite/);
  });

  it('rounds stochastically without bias', () => {
    const params: QuantizationParams = { clip: 1, maxClients: 2 ** 20, rounding: 'stochastic' };
    const scale = maxMagnitude(params);
    const x = 0.3 / scale; // 0.3 of one quantisation step
    const { values } = quantize(
      [new Float32Array(20000).fill(x)],
      20000,
      params,
      seededRandom('r'),
    );
    const mean = values.reduce((sum, v) => sum + (v | 0), 0) / values.length;
    expect(mean).toBeCloseTo(Math.fround(x) * scale, 1);
  });
});

describe('Shamir sharing over GF(2^521 - 1)', () => {
  const random = seededRandom('shamir');
  const secret = Buffer.from(random(32));
  const shares = splitSecret(secret, 3, [1, 2, 3, 4, 5], random);

  it('recovers the secret from any t shares', () => {
    for (const pick of [
      [0, 1, 2],
      [4, 2, 0],
      [1, 3, 4],
      [0, 1, 2, 3, 4],
    ]) {
      expect(
        combineShares(
          pick.map((i) => shares[i]),
          3,
          32,
        ).equals(secret),
      ).toBe(true);
    }
  });

  it('refuses fewer than t shares, and detects an inconsistent extra share', () => {
    expect(() => combineShares(shares.slice(0, 2), 3, 32)).toThrow(/2 shares cannot recover/);
    const bad = [...shares.slice(0, 3), { ...shares[3], y: shares[3].y + 1n }];
    expect(() => combineShares(bad, 3, 32)).toThrow(/share 4 is inconsistent/);
  });
});

describe('pairwise keys and masks', () => {
  it('gives both ends the same key, bound to purpose, round and ids', () => {
    const random = seededRandom('keys');
    const a = generateKeyPair(random);
    const b = generateKeyPair(random);
    const ab = pairwiseKey(a.privateKey, b.publicKey, 'mask', 'r1', 'a', 'b');
    expect(pairwiseKey(b.privateKey, a.publicKey, 'mask', 'r1', 'b', 'a')).toEqual(ab);
    expect(pairwiseKey(a.privateKey, b.publicKey, 'encryption', 'r1', 'a', 'b')).not.toEqual(ab);
    expect(pairwiseKey(a.privateKey, b.publicKey, 'mask', 'r2', 'a', 'b')).not.toEqual(ab);
    expect(pairwiseKey(a.privateKey, b.publicKey, 'mask', 'r1', 'a', 'c')).not.toEqual(ab);
    expect(() => pairwiseKey(a.privateKey, Buffer.alloc(32), 'mask', 'r1', 'a', 'b')).toThrow(
      /low order/,
    );
  });

  it('cancels +PRG and -PRG of one seed, across chunk boundaries', () => {
    const seed = Buffer.alloc(32, 7);
    const values = Uint32Array.from({ length: 70_000 }, (_, i) => i);
    applyMask(values, seed, 1);
    expect(values[3]).not.toBe(3);
    applyMask(values, seed, -1);
    expect(values.every((v, i) => v === i)).toBe(true);
    // A prefix of the stream is the stream of a shorter vector.
    expect(expandSeed(seed, 70_000).subarray(0, 100)).toEqual(expandSeed(seed, 100));
  });
});
