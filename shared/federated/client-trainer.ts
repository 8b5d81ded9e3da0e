import type { ImageCache, XrayRecord } from '../data/index.ts';
import { setModelWeights, type WeightArray } from '../model/model-weights.ts';
import type { tf } from '../tf/tf.ts';
import { trainLocal, type LocalTrainResult, type TrainProgress } from '../training/local-train.ts';
import type { Preprocessing } from '../training/preprocessing.ts';
import type { TrainSettings } from '../training/settings.ts';

/** One hospital's local training in one round. */
export interface ClientJob {
  clientId: string;
  records: readonly XrayRecord[];
  global: readonly WeightArray[];
  settings: TrainSettings;
  preprocessing: Preprocessing;
  schedule: { startEpoch: number; totalEpochs: number };
}

/** Runs clients' local training: in this process, or in worker threads to use more cores. */
export interface ClientTrainer {
  /** How many jobs may run at once. */
  readonly concurrency: number;
  train(job: ClientJob, onProgress?: (p: TrainProgress) => void): Promise<LocalTrainResult>;
  close(): Promise<void>;
}

/** Trains every client on one shared model instance, one after the other. */
export class InProcessTrainer implements ClientTrainer {
  readonly concurrency = 1;

  constructor(
    private readonly model: tf.LayersModel,
    private readonly cache?: ImageCache,
  ) {}

  async train(job: ClientJob, onProgress?: (p: TrainProgress) => void): Promise<LocalTrainResult> {
    setModelWeights(this.model, job.global);
    return trainLocal(this.model, job.records, job.settings, {
      preprocessing: job.preprocessing,
      schedule: job.schedule,
      cache: this.cache,
      onProgress,
    });
  }

  async close(): Promise<void> {}
}
