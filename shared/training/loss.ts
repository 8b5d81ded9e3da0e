import { tf } from '../tf/tf.ts';

/**
 * Class-weighted cross-entropy on the model's softmax output, with label smoothing:
 * mean over the batch of w[label] * CE (Keras' class_weight semantics).
 */
export function weightedCrossEntropy(
  probabilities: tf.Tensor2D,
  labels: tf.Tensor1D,
  classWeights: readonly [number, number],
  labelSmoothing: number,
): tf.Scalar {
  return tf.tidy(() => {
    const targets = tf
      .oneHot(labels, 2)
      .toFloat()
      .mul(1 - labelSmoothing)
      .add(labelSmoothing / 2);
    const logP = tf.log(tf.clipByValue(probabilities, 1e-7, 1));
    const perSample = tf.neg(tf.sum(tf.mul(targets, logP), 1));
    const weights = tf.gather(tf.tensor1d([...classWeights]), labels);
    return tf.mean(tf.mul(perSample, weights)) as tf.Scalar;
  });
}
