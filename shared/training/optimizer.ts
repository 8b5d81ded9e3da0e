import { tf } from '../tf/tf.ts';
import type { OptimizerName } from './settings.ts';

export function createOptimizer(
  name: OptimizerName,
  learningRate: number,
  momentum: number,
): tf.Optimizer {
  return name === 'adam' ? tf.train.adam(learningRate) : tf.train.momentum(learningRate, momentum);
}

/** tfjs has no public learning-rate setter for every optimizer; SGD-family ones cache a scalar. */
export function setLearningRate(optimizer: tf.Optimizer, learningRate: number): void {
  const target = optimizer as unknown as {
    learningRate: number;
    setLearningRate?: (lr: number) => void;
  };
  if (typeof target.setLearningRate === 'function') target.setLearningRate(learningRate);
  else target.learningRate = learningRate;
}

/** MomentumOptimizer.dispose() forgets the learning-rate scalar its SGD parent keeps. */
export function disposeOptimizer(optimizer: tf.Optimizer): void {
  optimizer.dispose();
  const cached = (optimizer as unknown as { c?: tf.Tensor }).c;
  if (cached && !cached.isDisposed) cached.dispose();
}
