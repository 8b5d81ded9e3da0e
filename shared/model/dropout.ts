import { tf } from '../tf/tf.ts';

/** The training step's dropout seed while a step runs (withDropoutSeed), else undefined. */
let stepSeed: number | undefined;

/**
 * Runs `fn` (one training forward pass) with dropout masks drawn from `seed`: the training loop
 * gives every step, and every shard of a data-parallel step, its own seed, so masks change from
 * step to step yet a run is reproducible.
 */
export function withDropoutSeed<T>(seed: number, fn: () => T): T {
  const previous = stepSeed;
  stepSeed = seed;
  try {
    return fn();
  } finally {
    stepSeed = previous;
  }
}

/** A 32-bit mix of integers (murmur3's finaliser over a running hash). */
export function mixSeeds(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const v of values) {
    h = Math.imul(h ^ (v | 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

export interface SeededDropoutArgs {
  rate: number;
  seed: number;
  name?: string;
}

/**
 * Dropout whose mask changes every training step yet is reproducible. tfjs' own Dropout with a
 * `seed` draws the same mask on every call (the seed restarts the generator), so it would drop
 * the same units all through training; without one, runs cannot be repeated. Here the mask
 * comes from the layer's seed mixed with the step's (withDropoutSeed), or with a call counter
 * when the caller gives none.
 */
export class SeededDropout extends tf.layers.Layer {
  static readonly className = 'SeededDropout';
  readonly rate: number;
  readonly seed: number;
  private calls = 0;

  constructor(args: SeededDropoutArgs) {
    super({ name: args.name });
    if (!(args.rate >= 0 && args.rate < 1))
      throw new RangeError(`dropout rate must be in [0, 1), got ${args.rate}`);
    this.rate = args.rate;
    this.seed = args.seed;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      if (kwargs.training !== true || this.rate === 0) return tf.clone(x);
      const seed = mixSeeds(
        this.seed,
        stepSeed ?? 0x7fffffff,
        stepSeed === undefined ? this.calls++ : 0,
      );
      const keep = tf.cast(
        tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, 'float32', seed), this.rate),
        'float32',
      );
      return tf.div(tf.mul(x, keep), 1 - this.rate);
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}

tf.serialization.registerClass(SeededDropout);
