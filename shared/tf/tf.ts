/**
 * The one place the project imports TensorFlow.js from, so every module shares one engine
 * (and one backend registry) whichever backend package is loaded.
 */
import * as tf from '@tensorflow/tfjs';

export { tf };
export type Tensor = tf.Tensor;
