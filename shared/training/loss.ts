import { tf } from '../tf/tf.ts';

/** Floor of the probabilities whose log enters the loss, as in Keras. */
const LOG_FLOOR = 1e-7;
/** Smallest divisor of the gradient of log(p): keeps 1 / p finite where softmax underflows. */
const GRADIENT_FLOOR = 1e-30;

/**
 * log(max(p, 1e-7)) whose gradient is 1 / p below the floor too. With the plain clip the
 * gradient is 0 there, so a network whose softmax saturates on the wrong class (a plain VGG or
 * AlexNet early in training) gets no signal back and stays stuck predicting one class. Through
 * the softmax, 1 / p times dp/dz gives the usual (p - target) gradient of the logits.
 */
const flooredLog = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const p = args[0] as tf.Tensor;
  const save = args[1] as tf.GradSaveFunc;
  save([p]);
  return {
    value: tf.log(tf.clipByValue(p, LOG_FLOOR, 1)),
    gradFunc: (dy, saved) => tf.div(dy, tf.maximum(saved[0] as tf.Tensor, GRADIENT_FLOOR)),
  };
}) as (probabilities: tf.Tensor) => tf.Tensor;

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
    const logP = flooredLog(probabilities);
    const perSample = tf.neg(tf.sum(tf.mul(targets, logP), 1));
    const weights = tf.gather(tf.tensor1d([...classWeights]), labels);
    return tf.mean(tf.mul(perSample, weights)) as tf.Scalar;
  });
}
