import { streamBatches, type ImageCache, type XrayRecord } from '../data/index.ts';
import { computeMetrics } from '../metrics/index.ts';
import { tf } from '../tf/tf.ts';
import type { Preprocessing } from './preprocessing.ts';

/** P(PNEUMONIA) for a batch of preprocessed images (count x size x size). */
export function predictBatch(
  model: tf.LayersModel,
  xs: Float32Array,
  count: number,
  size: number,
): Float32Array {
  return tf
    .tidy(() => {
      const input = tf.tensor4d(xs, [count, size, size, 1]);
      const probabilities = model.predict(input) as tf.Tensor2D;
      return tf.slice(probabilities, [0, 1], [count, 1]).dataSync() as Float32Array;
    })
    .slice();
}

/**
 * P(PNEUMONIA) for a batch, from one network or several (an ensemble's averaged members):
 * what scoring code takes so that it need not know which.
 */
export type BatchScorer = (xs: Float32Array, count: number, size: number) => Float32Array;

export function networkScorer(model: tf.LayersModel): BatchScorer {
  return (xs, count, size) => predictBatch(model, xs, count, size);
}

/** A scorer for a network or the scorer itself. */
export function toScorer(model: tf.LayersModel | BatchScorer): BatchScorer {
  return typeof model === 'function' ? model : networkScorer(model);
}

export interface PredictionSet {
  labels: Int32Array;
  probabilities: Float32Array;
  /** Mean cross-entropy of the predictions (unweighted, no smoothing). */
  loss: number;
}

/** Scores every record, streaming batches so memory does not grow with the dataset. */
export async function predictRecords(
  model: tf.LayersModel | BatchScorer,
  records: readonly XrayRecord[],
  preprocessing: Preprocessing,
  options: {
    batchSize?: number;
    cache?: ImageCache;
    onProgress?: (done: number, total: number) => void;
  } = {},
): Promise<PredictionSet> {
  const labels = new Int32Array(records.length);
  const probabilities = new Float32Array(records.length);
  let offset = 0;
  let lossSum = 0;
  const score = toScorer(model);
  for await (const batch of streamBatches(records, {
    batchSize: options.batchSize ?? 32,
    size: preprocessing.inputSize,
    normalization: preprocessing.normalization,
    equalize: preprocessing.equalize,
    shuffle: false,
    seed: 0,
    augment: false,
    cache: options.cache,
  })) {
    const p = score(batch.xs, batch.count, preprocessing.inputSize);
    for (let i = 0; i < batch.count; i++) {
      labels[offset + i] = batch.labels[i];
      probabilities[offset + i] = p[i];
      const pTrue = batch.labels[i] === 1 ? p[i] : 1 - p[i];
      lossSum -= Math.log(Math.min(Math.max(pTrue, 1e-7), 1));
    }
    offset += batch.count;
    options.onProgress?.(offset, records.length);
  }
  return { labels, probabilities, loss: lossSum / Math.max(records.length, 1) };
}

/** Quick validation score after an epoch or round: loss, accuracy at 0.5, and AUC (no intervals). */
export interface ValidationScore {
  loss: number;
  accuracy: number;
  auc: number;
}

export async function scoreValidation(
  model: tf.LayersModel,
  val: readonly XrayRecord[],
  preprocessing: Preprocessing,
  cache?: ImageCache,
): Promise<ValidationScore | undefined> {
  if (val.length === 0) return undefined;
  const predictions = await predictRecords(model, val, preprocessing, { cache });
  const metrics = computeMetrics(predictions.labels, predictions.probabilities, {
    threshold: 0.5,
    bootstrapSamples: 0,
  });
  return { loss: predictions.loss, accuracy: metrics.accuracy.value, auc: metrics.auc.value };
}
