/**
 * Standard normal draws for the DP noise, by Box-Muller from a uniform source: a seeded one
 * (the run's Rng: reproducible, for tests and simulations, where the noise need not be
 * secret) or node:crypto's (the aggregator: noise that anyone who knows the run's seed,
 * which GET /rounds shows, could otherwise recompute and subtract).
 */
import { randomFillSync } from 'node:crypto';
import type { Rng } from '../util/random.ts';

/** Uniform in [0, 1). */
export type UniformSource = () => number;

export interface GaussianSource {
  /** One N(0, 1) draw. */
  next(): number;
  /** Whether the draws come from a cryptographic source (reported with the round). */
  readonly cryptographic: boolean;
}

export function seededUniform(rng: Rng): UniformSource {
  return () => rng.next();
}

/** Uniform doubles with 53 random bits each from node:crypto, read 8 KiB at a time. */
export function cryptoUniform(): UniformSource {
  const words = new BigUint64Array(1024);
  let at = words.length;
  return () => {
    if (at === words.length) {
      randomFillSync(words);
      at = 0;
    }
    return Number(words[at++] >> 11n) / 2 ** 53;
  };
}

/**
 * Box-Muller: for U1 in (0, 1] and U2 in [0, 1), sqrt(-2 ln U1) (cos 2 pi U2, sin 2 pi U2) are
 * two independent N(0, 1) draws; both are used.
 */
export function gaussianSource(uniform: UniformSource, cryptographic: boolean): GaussianSource {
  let spare: number | null = null;
  return {
    cryptographic,
    next() {
      if (spare !== null) {
        const value = spare;
        spare = null;
        return value;
      }
      const u1 = 1 - uniform();
      const u2 = uniform();
      const radius = Math.sqrt(-2 * Math.log(u1));
      spare = radius * Math.sin(2 * Math.PI * u2);
      return radius * Math.cos(2 * Math.PI * u2);
    },
  };
}

export function cryptoGaussian(): GaussianSource {
  return gaussianSource(cryptoUniform(), true);
}

export function seededGaussian(rng: Rng): GaussianSource {
  return gaussianSource(seededUniform(rng), false);
}
