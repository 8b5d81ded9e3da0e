/**
 * The mask generator: a 32-byte seed expanded by AES-256-CTR (zero IV) over zeros into
 * little-endian uint32 words, added to or subtracted from a vector mod 2^32 in chunks so a
 * full model's mask is never held in memory as a second copy.
 */
import { createCipheriv } from 'node:crypto';
import { SecAggError } from './errors.ts';
import { wordsOf } from './words.ts';

const CHUNK_WORDS = 1 << 16;
const ZERO_IV = Buffer.alloc(16);

/** target += sign * PRG(seed) mod 2^32, over the whole of target. */
export function applyMask(target: Uint32Array, seed: Uint8Array, sign: 1 | -1): void {
  if (seed.length !== 32) {
    throw new SecAggError('bad-config', `a mask seed is 32 bytes, got ${seed.length}`);
  }
  const cipher = createCipheriv('aes-256-ctr', seed, ZERO_IV);
  const zeros = Buffer.alloc(4 * CHUNK_WORDS);
  for (let start = 0; start < target.length; start += CHUNK_WORDS) {
    const n = Math.min(CHUNK_WORDS, target.length - start);
    const mask = wordsOf(cipher.update(n === CHUNK_WORDS ? zeros : zeros.subarray(0, 4 * n)));
    if (sign === 1) for (let i = 0; i < n; i++) target[start + i] += mask[i];
    else for (let i = 0; i < n; i++) target[start + i] -= mask[i];
  }
}

/** PRG(seed) as a fresh vector of `length` words (tests and the uniformity check). */
export function expandSeed(seed: Uint8Array, length: number): Uint32Array {
  const out = new Uint32Array(length);
  applyMask(out, seed, 1);
  return out;
}
