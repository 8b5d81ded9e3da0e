/**
 * Shamir secret sharing (t of n) over GF(p), p = 2^521 - 1 (a Mersenne prime: larger than any
 * 32-byte secret, so a seed or an X25519 private key is one field element). A share is the
 * polynomial's value at the holder's index x = 1..n; any t shares give the secret by Lagrange
 * interpolation at 0, fewer reveal nothing about it.
 */
import { SecAggError } from './errors.ts';
import type { RandomSource } from './random.ts';

export const FIELD_PRIME = 2n ** 521n - 1n;
/** Bytes of one share value, big-endian. */
export const SHARE_BYTES = 66;

export interface Share {
  /** The holder's index in the round's roster, 1-based (never 0: f(0) is the secret). */
  x: number;
  y: bigint;
}

const mod = (a: bigint): bigint => ((a % FIELD_PRIME) + FIELD_PRIME) % FIELD_PRIME;

function inverse(a: bigint): bigint {
  let [r0, r1] = [mod(a), FIELD_PRIME];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new SecAggError('reconstruction-failed', 'no inverse in the field');
  return mod(s0);
}

function bytesToBigint(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

function bigintToBytes(value: bigint, length: number): Buffer {
  const hex = value.toString(16).padStart(2 * length, '0');
  if (hex.length > 2 * length) {
    throw new SecAggError('reconstruction-failed', `the value does not fit in ${length} bytes`);
  }
  return Buffer.from(hex, 'hex');
}

function randomFieldElement(random: RandomSource): bigint {
  for (;;) {
    const bytes = Buffer.from(random(SHARE_BYTES));
    bytes[0] &= 0x01; // 521 bits: the top byte keeps one bit
    const value = bytesToBigint(bytes);
    if (value < FIELD_PRIME) return value;
  }
}

function checkIndex(x: number): void {
  if (!Number.isInteger(x) || x < 1 || x > 2 ** 20) {
    throw new SecAggError('bad-message', `a share index is an integer in [1, 2^20], got ${x}`);
  }
}

/** Shares of `secret` for the holders at `indices`, any `threshold` of which recover it. */
export function splitSecret(
  secret: Uint8Array,
  threshold: number,
  indices: readonly number[],
  random: RandomSource,
): Share[] {
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > indices.length) {
    throw new SecAggError('bad-config', `threshold ${threshold} is not in [1, ${indices.length}]`);
  }
  if (8 * secret.length >= 521) throw new SecAggError('bad-config', 'the secret is too long');
  indices.forEach(checkIndex);
  if (new Set(indices).size !== indices.length) {
    throw new SecAggError('bad-config', 'share indices must be distinct');
  }
  const coefficients = [bytesToBigint(secret)];
  for (let k = 1; k < threshold; k++) coefficients.push(randomFieldElement(random));
  return indices.map((x) => {
    let y = 0n;
    for (let k = coefficients.length - 1; k >= 0; k--) y = mod(y * BigInt(x) + coefficients[k]);
    return { x, y };
  });
}

/** f(at) of the polynomial of degree < shares.length through the shares. */
function interpolate(shares: readonly Share[], at: bigint): bigint {
  let value = 0n;
  for (const [i, si] of shares.entries()) {
    let numerator = 1n;
    let denominator = 1n;
    for (const [j, sj] of shares.entries()) {
      if (i === j) continue;
      numerator = mod(numerator * (at - BigInt(sj.x)));
      denominator = mod(denominator * (BigInt(si.x) - BigInt(sj.x)));
    }
    value = mod(value + si.y * numerator * inverse(denominator));
  }
  return value;
}

/**
 * The secret from at least `threshold` shares (as `secretLength` bytes). Shares beyond the
 * first t must lie on the same polynomial: a wrong share is detected when more than t arrive.
 */
export function combineShares(
  shares: readonly Share[],
  threshold: number,
  secretLength: number,
): Buffer {
  shares.forEach((share) => checkIndex(share.x));
  if (new Set(shares.map((s) => s.x)).size !== shares.length) {
    throw new SecAggError('reconstruction-failed', 'two shares have the same index');
  }
  if (shares.length < threshold) {
    throw new SecAggError(
      'below-threshold',
      `${shares.length} shares cannot recover a secret shared with threshold ${threshold}`,
    );
  }
  const basis = shares.slice(0, threshold);
  for (const extra of shares.slice(threshold)) {
    if (interpolate(basis, BigInt(extra.x)) !== mod(extra.y)) {
      throw new SecAggError('reconstruction-failed', `share ${extra.x} is inconsistent`);
    }
  }
  return bigintToBytes(interpolate(basis, 0n), secretLength);
}

export function encodeShareValue(y: bigint): Buffer {
  return bigintToBytes(mod(y), SHARE_BYTES);
}

export function decodeShareValue(bytes: Uint8Array): bigint {
  if (bytes.length !== SHARE_BYTES) {
    throw new SecAggError('bad-message', `a share value is ${SHARE_BYTES} bytes`);
  }
  const y = bytesToBigint(bytes);
  if (y >= FIELD_PRIME) throw new SecAggError('bad-message', 'a share value is outside the field');
  return y;
}
