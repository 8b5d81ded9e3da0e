import type { ImageCache, XrayRecord } from '../data/index.ts';
import type { tf } from '../tf/tf.ts';
import type { GradientPeers } from '../training/data-parallel.ts';
import { trainLocal, type TrainProgress } from '../training/local-train.ts';
import { scoreValidation, type ValidationScore } from '../training/predict.ts';
import type { Preprocessing } from '../training/preprocessing.ts';
import type { TrainSettings } from '../training/settings.ts';

export interface EpochReport {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  learningRate: number;
  val?: ValidationScore;
  seconds: number;
}

/**
 * Pooled (centralised) training: one epoch at a time through the same local-training loop the
 * hospitals use, scoring the validation split after each epoch.
 */
export async function runCentralised(
  model: tf.LayersModel,
  train: readonly XrayRecord[],
  val: readonly XrayRecord[],
  settings: TrainSettings,
  preprocessing: Preprocessing,
  hooks: {
    cache?: ImageCache;
    /** Data-parallel worker threads (models without BatchNorm). */
    peers?: GradientPeers;
    onProgress?: (p: TrainProgress) => void;
    onEpochEnd?: (report: EpochReport) => void;
  } = {},
): Promise<EpochReport[]> {
  const reports: EpochReport[] = [];
  for (let epoch = 0; epoch < settings.epochs; epoch++) {
    const result = await trainLocal(
      model,
      train,
      { ...settings, epochs: 1, seed: settings.seed + epoch },
      {
        preprocessing,
        schedule: { startEpoch: epoch, totalEpochs: settings.epochs },
        cache: hooks.cache,
        peers: hooks.peers,
        onProgress: (p) => hooks.onProgress?.({ ...p, epoch: epoch + 1, epochs: settings.epochs }),
      },
    );
    const summary = result.epochs[0];
    const report: EpochReport = {
      epoch: epoch + 1,
      trainLoss: summary.loss,
      trainAccuracy: summary.accuracy,
      learningRate: summary.learningRate,
      seconds: result.seconds,
    };
    report.val = await scoreValidation(model, val, preprocessing, hooks.cache);
    reports.push(report);
    hooks.onEpochEnd?.(report);
  }
  return reports;
}
