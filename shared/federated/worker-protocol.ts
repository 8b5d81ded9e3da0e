import type { LocalTrainResult, TrainProgress } from '../training/local-train.ts';

export interface WorkerModelSpec {
  architecture: string;
  inputSize: number;
  width?: number;
  backend?: string;
  cacheBytes?: number;
}

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'progress'; progress: TrainProgress }
  | { type: 'done'; result: LocalTrainResult }
  | { type: 'error'; message: string };
