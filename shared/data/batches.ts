/**
 * Streaming an epoch of records as batches of float pixels for the trainer.
 *
 * Decoding runs in sharp on libuv's thread pool, so while the consumer computes on the main
 * thread the next `prefetch` batches are already being read and decoded. At most
 * prefetch + 1 batches are in flight and one more is held by the consumer, so memory is
 * bounded by the batch size, not the dataset size.
 */
import { createRng, type Rng } from '../util/random.ts';
import { augmentImage, resolveAugmentOptions, type AugmentOptions } from './augment.ts';
import type { XrayRecord } from './dataset.ts';
import { ImageCache } from './image-cache.ts';
import { DEFAULT_NORMALIZATION, decodeXray, type Normalization } from './image.ts';
import { createLimiter } from './limiter.ts';

export const DEFAULT_PREFETCH = 2;
/** Images decoded at once; matches libuv's default pool of 4 threads (UV_THREADPOOL_SIZE). */
export const DEFAULT_DECODE_CONCURRENCY = 4;

export interface BatchStreamOptions {
  batchSize: number;
  /** Images are resized to size x size. */
  size: number;
  /** Shuffle the epoch's order (with seed). */
  shuffle: boolean;
  /** Seeds the shuffle and the augmentation; use a different seed per epoch. */
  seed: number;
  /** Augmentation options ({} = defaults); false or absent = no augmentation. */
  augment?: AugmentOptions | false;
  /** Batches decoded ahead of the one being consumed. Default 2. */
  prefetch?: number;
  /** Decoded images (before augmentation) are kept here across epochs. */
  cache?: ImageCache;
  normalization?: Normalization;
  /** CLAHE before normalisation (see image.ts). */
  equalize?: boolean;
  /**
   * Record indices to visit (e.g. balancedSampleOrder); default every record once. Shuffled
   * again when shuffle is true.
   */
  order?: readonly number[];
  /** Max images decoding at once. Default 4. */
  concurrency?: number;
}

export interface Batch {
  /** count * size * size floats, NHWC with C = 1. */
  xs: Float32Array;
  /** count labels, 1 = PNEUMONIA. */
  labels: Int32Array;
  paths: string[];
  /** Indices of the records in the input array. */
  indices: number[];
  count: number;
}

function positiveInt(name: string, value: number, min = 1): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
  }
}

function epochOrder(n: number, opts: BatchStreamOptions, rng: Rng): number[] {
  const order = opts.order ? [...opts.order] : Array.from({ length: n }, (_, i) => i);
  for (const i of order) {
    if (!Number.isInteger(i) || i < 0 || i >= n)
      throw new RangeError(`order has invalid index ${i}`);
  }
  return opts.shuffle ? rng.shuffle(order) : order;
}

/** Yields the epoch in batches; the last one may be smaller. Deterministic for a seed. */
export async function* streamBatches(
  records: readonly XrayRecord[],
  opts: BatchStreamOptions,
): AsyncGenerator<Batch, void, undefined> {
  const { batchSize, size, cache } = opts;
  const prefetch = opts.prefetch ?? DEFAULT_PREFETCH;
  positiveInt('batchSize', batchSize);
  positiveInt('size', size);
  positiveInt('prefetch', prefetch, 0);
  const normalization = opts.normalization ?? DEFAULT_NORMALIZATION;
  const equalize = opts.equalize ?? false;
  const augment = opts.augment ? resolveAugmentOptions(opts.augment) : null;
  const limit = createLimiter(opts.concurrency ?? DEFAULT_DECODE_CONCURRENCY);

  const root = createRng(opts.seed);
  const order = epochOrder(records.length, opts, root.fork());
  const augmentRoot = root.fork();
  const pixels = size * size;

  const decode = (path: string): Promise<Float32Array> => {
    const load = (): Promise<Float32Array> =>
      limit(() => decodeXray(path, { size, normalization, equalize }));
    return cache
      ? cache.getOrLoad(ImageCache.key(path, size, normalization, equalize), load)
      : load();
  };

  // Called in batch order, so the per-image generators are forked in a fixed sequence and
  // augmentation does not depend on which decode finishes first.
  const loadBatch = (b: number): Promise<Batch> => {
    const indices = order.slice(b * batchSize, (b + 1) * batchSize);
    const count = indices.length;
    const itemRngs = augment ? indices.map(() => augmentRoot.fork()) : [];
    const xs = new Float32Array(count * pixels);
    const labels = Int32Array.from(indices, (i) => records[i].label);
    const paths = indices.map((i) => records[i].path);
    const work = indices.map(async (recordIndex, k) => {
      const image = await decode(records[recordIndex].path);
      xs.set(augment ? augmentImage(image, size, itemRngs[k], augment) : image, k * pixels);
    });
    return Promise.all(work).then(() => ({ xs, labels, paths, indices, count }));
  };

  const batchCount = Math.ceil(order.length / batchSize);
  const inFlight = new Map<number, Promise<Batch>>();
  let started = 0;
  for (let b = 0; b < batchCount; b++) {
    while (started < batchCount && started <= b + prefetch) {
      const job = loadBatch(started);
      // Prefetched batches may never be awaited (consumer stops, or an earlier batch fails).
      job.catch(() => undefined);
      inFlight.set(started++, job);
    }
    const job = inFlight.get(b) as Promise<Batch>;
    inFlight.delete(b);
    yield await job;
  }
}
