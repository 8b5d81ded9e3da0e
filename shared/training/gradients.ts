import { withDropoutSeed } from '../model/dropout.ts';
import { tf } from '../tf/tf.ts';
import { weightedCrossEntropy } from './loss.ts';

/** Part of a training batch: NHWC images with one channel and their labels. */
export interface BatchShard {
  xs: Float32Array;
  labels: Int32Array;
  count: number;
}

export interface ShardGradients {
  /** One gradient per trainable variable, in the variables' order (caller disposes). */
  grads: tf.Tensor[];
  /** This shard's share of the whole batch's loss (already scaled). */
  loss: number;
  /** Correct predictions in the shard. */
  hits: number;
}

/**
 * Gradients of `scale` x (the class-weighted loss on this shard). With scale = shard / batch
 * size, the shards' gradients add up to the whole batch's gradient, because the loss is a mean
 * over the batch: data-parallel training sums them and applies one update.
 */
export function shardGradients(
  model: tf.LayersModel,
  trainable: readonly tf.Variable[],
  shard: BatchShard,
  classWeights: readonly [number, number],
  labelSmoothing: number,
  scale: number,
  /** Seed of this shard's dropout masks (shared/model/dropout.ts). */
  dropoutSeed: number,
): ShardGradients {
  const size = Math.round(Math.sqrt(shard.xs.length / shard.count));
  let hitsTensor: tf.Scalar | undefined;
  const { value, grads } = tf.tidy(() => {
    const xs = tf.tensor4d(shard.xs, [shard.count, size, size, 1]);
    const labels = tf.tensor1d(shard.labels, 'int32');
    return tf.variableGrads(() => {
      const probabilities = withDropoutSeed(
        dropoutSeed,
        () => model.apply(xs, { training: true }) as tf.Tensor2D,
      );
      hitsTensor = tf.keep(
        tf.sum(tf.cast(tf.equal(tf.argMax(probabilities, 1), labels), 'float32')) as tf.Scalar,
      );
      return tf.mul(
        weightedCrossEntropy(probabilities, labels, classWeights, labelSmoothing),
        scale,
      ) as tf.Scalar;
    }, trainable as tf.Variable[]);
  });
  const loss = value.dataSync()[0];
  const hits = hitsTensor ? hitsTensor.dataSync()[0] : 0;
  value.dispose();
  hitsTensor?.dispose();
  return { grads: trainable.map((v) => grads[v.name]), loss, hits };
}

/** Splits a batch into `parts` contiguous shards of near-equal size (none empty). */
export function splitBatch(batch: BatchShard, parts: number): BatchShard[] {
  const n = Math.min(Math.max(1, parts), batch.count);
  const pixels = batch.xs.length / batch.count;
  const shards: BatchShard[] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    const count = Math.floor(batch.count / n) + (i < batch.count % n ? 1 : 0);
    shards.push({
      xs: batch.xs.slice(start * pixels, (start + count) * pixels),
      labels: batch.labels.slice(start, start + count),
      count,
    });
    start += count;
  }
  return shards;
}
