import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageCache, XrayRecord } from '../data/index.ts';
import {
  chooseThreshold,
  computeMetrics,
  formatThresholdRule,
  type EvaluationReport,
  type TemperatureCalibration,
  type ThresholdChoice,
  type ThresholdRule,
} from '../metrics/index.ts';
import type { ArchitectureName } from '../model/architectures.ts';
import { saveModelDir, type ModelMetadata } from '../model/model-dir.ts';
import { writeReliabilityDiagram, writeTrainingPlots, type HistoryPoint } from '../report/index.ts';
import type { tf } from '../tf/tf.ts';
import { predictRecords } from '../training/predict.ts';
import type { Preprocessing } from '../training/preprocessing.ts';

export interface FinalizeInput {
  outDir: string;
  model: tf.LayersModel;
  architecture: ArchitectureName;
  width: number;
  preprocessing: Preprocessing;
  val: readonly XrayRecord[];
  thresholdRule: ThresholdRule;
  /** A threshold chosen elsewhere (on calibration splits): used as is, not chosen on `val`. */
  threshold?: ThresholdChoice;
  /** Temperature scaling fitted elsewhere (on calibration splits): stored and charted. */
  calibration?: TemperatureCalibration;
  training: Record<string, unknown>;
  history: HistoryPoint[];
  stepLabel: 'epoch' | 'round';
  dtype: 'float32' | 'float16';
  cache?: ImageCache;
  seed: number;
}

export interface FinalizeOutput {
  threshold: ThresholdChoice;
  validation?: EvaluationReport;
}

/**
 * Chooses the decision threshold on the validation split (unless one is given), scores the
 * model there with confidence intervals and writes the model directory, report.json and the
 * plots (with reliability.png, before and after temperature scaling, when calibrated).
 */
export async function finalizeModel(input: FinalizeInput): Promise<FinalizeOutput> {
  let threshold: ThresholdChoice = input.threshold ?? {
    threshold: input.thresholdRule.kind === 'fixed' ? input.thresholdRule.value : 0.5,
    rule: formatThresholdRule(input.thresholdRule),
    description: 'no validation data: default threshold',
  };
  let validation: EvaluationReport | undefined;
  if (input.val.length > 0) {
    const predictions = await predictRecords(input.model, input.val, input.preprocessing, {
      cache: input.cache,
    });
    threshold =
      input.threshold ??
      chooseThreshold(predictions.labels, predictions.probabilities, input.thresholdRule);
    validation = computeMetrics(predictions.labels, predictions.probabilities, {
      threshold: threshold.threshold,
      seed: input.seed,
    });
  }
  const metadata: ModelMetadata = {
    format: 'fedxray-model',
    version: 1,
    architecture: input.architecture,
    width: input.width,
    preprocessing: input.preprocessing,
    classes: ['NORMAL', 'PNEUMONIA'],
    threshold,
    ...(input.calibration ? { calibration: input.calibration } : {}),
    parameters: input.model.countParams(),
    createdAt: new Date().toISOString(),
    training: input.training,
    validation,
  };
  await mkdir(input.outDir, { recursive: true });
  await saveModelDir(input.outDir, input.model, metadata, { dtype: input.dtype });
  await writeTrainingPlots(input.outDir, input.history, input.stepLabel);
  if (input.calibration) await writeReliabilityDiagram(input.outDir, input.calibration);
  await writeFile(
    join(input.outDir, 'report.json'),
    JSON.stringify({ ...metadata, history: input.history }, null, 2) + '\n',
  );
  return { threshold, validation };
}
