/**
 * Where the protocol's randomness comes from: node:crypto in production, or a seeded
 * AES-256-CTR keystream so tests are reproducible (never for a real round: anyone who knows
 * the seed knows every mask and share).
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';

/** Returns `size` fresh random bytes. */
export type RandomSource = (size: number) => Buffer;

export const cryptoRandom: RandomSource = (size) => randomBytes(size);

export function seededRandom(seed: string): RandomSource {
  const key = createHash('sha256').update(`fedxray-secagg-test-seed:${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return (size) => cipher.update(Buffer.alloc(size));
}
