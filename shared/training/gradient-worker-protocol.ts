import type { BatchShard } from './gradients.ts';

/** What a gradient worker builds: the same network as the main thread's model. */
export interface GradientWorkerSpec {
  architecture: string;
  inputSize: number;
  width?: number;
  backend?: string;
}

/** One step's work: the current weights (all of model.weights, in order) and a shard. */
export interface ShardRequest {
  type: 'shard';
  weights: Float32Array[];
  shard: BatchShard;
  classWeights: [number, number];
  labelSmoothing: number;
  scale: number;
  dropoutSeed: number;
}

export type GradientWorkerReply =
  | { type: 'ready'; weightShapes: number[][]; trainable: number }
  | {
      type: 'grads';
      grads: Float32Array[];
      loss: number;
      hits: number;
      /** The worker's tf.memory().numTensors after the step: flat from step to step. */
      numTensors: number;
    }
  | { type: 'error'; message: string };
