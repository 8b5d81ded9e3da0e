import { join } from 'node:path';
import { ImageCache } from '../data/index.ts';
import { buildModel } from '../model/architectures.ts';
import { finalizeModel, type FinalizeOutput } from '../pipeline/finalize.ts';
import type { HistoryPoint } from '../report/index.ts';
import type { tf } from '../tf/tf.ts';
import { initBackend, type BackendInfo } from '../tf/backend.ts';
import { describeSplit, prepareData, writeManifest, type PreparedData } from './data-setup.ts';
import { info, printJson, formatSeconds } from './output.ts';
import type { CommonTraining } from './training-options.ts';
import {
  formatReportTable,
  type TemperatureCalibration,
  type ThresholdChoice,
} from '../metrics/index.ts';

export interface TrainingRunContext {
  common: CommonTraining;
  data: PreparedData;
  model: tf.LayersModel;
  backend: BackendInfo;
  cache: ImageCache;
}

export interface TrainingRunOutcome {
  history: HistoryPoint[];
  stepLabel: 'epoch' | 'round';
  training: Record<string, unknown>;
  /** Set when the run chose its threshold itself (on calibration splits, not validation). */
  threshold?: ThresholdChoice;
  /** Temperature scaling fitted on the calibration splits: stored in model.json, charted. */
  calibration?: TemperatureCalibration;
  /** More fields of the --json summary. */
  json?: Record<string, unknown>;
}

/** The frame shared by `train` and `simulate`: set-up, the run itself, then model + report. */
export async function runTrainingCommand(
  common: CommonTraining,
  backendPreference: string | undefined,
  json: boolean,
  body: (ctx: TrainingRunContext) => Promise<TrainingRunOutcome>,
): Promise<number> {
  const started = performance.now();
  const backend = await initBackend({ preferred: backendPreference });
  const data = await prepareData(common);
  info(describeSplit(data));
  if (data.train.length === 0) throw new Error(`No training images left in ${common.dataDir}`);
  await writeManifest(join(common.outDir, 'validation'), data.val, 'val');
  const model = buildModel(common.architecture, {
    inputSize: common.preprocessing.inputSize,
    width: common.width,
    seed: common.seed,
  });
  info(
    `${common.architecture} at ${common.preprocessing.inputSize}px: ${model.countParams().toLocaleString('en-US')} parameters, backend ${backend.name}`,
  );
  const cache = new ImageCache();
  try {
    const outcome = await body({ common, data, model, backend, cache });
    const result: FinalizeOutput = await finalizeModel({
      outDir: common.outDir,
      model,
      architecture: common.architecture,
      width: common.width,
      preprocessing: common.preprocessing,
      val: data.val,
      thresholdRule: common.thresholdRule,
      threshold: outcome.threshold,
      calibration: outcome.calibration,
      training: {
        ...outcome.training,
        backend: backend.name,
        split: data.description,
        trainImages: data.train.length,
        valImages: data.val.length,
        wallSeconds: (performance.now() - started) / 1000,
      },
      history: outcome.history,
      stepLabel: outcome.stepLabel,
      dtype: common.dtype,
      cache,
      seed: common.seed,
    });
    const seconds = (performance.now() - started) / 1000;
    info(
      `model written to ${common.outDir} in ${formatSeconds(seconds)}; threshold ${result.threshold.threshold.toFixed(3)} (${result.threshold.rule})`,
    );
    if (result.validation) info(formatReportTable(result.validation));
    if (json)
      printJson({
        out: common.outDir,
        seconds,
        backend: backend.name,
        threshold: result.threshold,
        validation: result.validation,
        history: outcome.history,
        ...outcome.json,
      });
    return 0;
  } finally {
    model.dispose();
  }
}
