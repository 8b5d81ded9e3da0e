/**
 * Runs one experiment of the paper suite in this process and writes `<results>/<id>.json`:
 * trains its model (experiment-training.ts), then scores it on the patient-level validation
 * split every experiment shares with computeMetrics (95% intervals), at the threshold its rule
 * (or its hospitals' calibration splits) gave.
 */
import { loadavg } from 'node:os';
import { calibrateOnHospitals, type CalibrationInfo } from '../../shared/federated/calibration.ts';
import {
  chooseThreshold,
  computeMetrics,
  parseThresholdRule,
  type EvaluationReport,
  type ThresholdChoice,
} from '../../shared/metrics/index.ts';
import { buildModel } from '../../shared/model/architectures.ts';
import { saveModelDir } from '../../shared/model/model-dir.ts';
import { predictRecords } from '../../shared/training/predict.ts';
import { experimentLog, fmt } from './experiment-log.ts';
import { trainExperiment, type TrainingContext } from './experiment-training.ts';
import type { ExperimentSpec, GroupName } from './experiments.ts';
import { describeMachine, gitCommit } from './machine-info.ts';
import type { ProfileName } from './profiles.ts';
import {
  RESULT_FORMAT,
  RESULT_VERSION,
  resultPath,
  writeJsonAtomic,
  type ExperimentResult,
} from './results.ts';

export interface RunContext extends TrainingContext {
  profile: ProfileName;
  dryRun: boolean;
  groups: GroupName[];
  resultsDir: string;
  /** Experiments running at once on this machine (recorded with the result). */
  jobs: number;
  /** Also save each trained model as a fedxray model directory `<dir>/<id>/`. */
  modelsDir?: string;
  log: (message: string) => void;
}

/** Runs the experiment, writes its result file and returns the result. */
export async function runExperiment(
  spec: ExperimentSpec,
  ctx: RunContext,
): Promise<ExperimentResult> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const loadAverageStart = loadavg();
  const { data, log } = ctx;
  const model = buildModel(spec.architecture, {
    inputSize: spec.preprocessing.inputSize,
    width: spec.width,
    seed: spec.modelSeed,
  });
  const logs = experimentLog(spec, log);
  const { prefix } = logs;
  try {
    const {
      stepLabel,
      history,
      partitions,
      rounds,
      trainedImages,
      trainSeconds,
      workers,
      calibrationSplits,
      classWeights,
    } = await trainExperiment(spec, model, ctx, logs);

    const predictions = await predictRecords(model, data.val, spec.preprocessing, {
      cache: ctx.cache,
    });
    let threshold: ThresholdChoice;
    let calibration: CalibrationInfo | undefined;
    if (spec.calibration) {
      calibration = await calibrateOnHospitals(
        model,
        calibrationSplits,
        spec.calibration,
        spec.preprocessing,
        ctx.cache,
      );
      threshold = calibration.threshold;
      log(
        `${prefix} threshold ${fmt(threshold.threshold)} from ${calibration.images} held-out images of ${calibration.hospitals.length} hospitals: ${threshold.description}`,
      );
    } else {
      threshold = chooseThreshold(
        predictions.labels,
        predictions.probabilities,
        parseThresholdRule(spec.thresholdRule),
      );
    }
    const score = (at: number): EvaluationReport =>
      computeMetrics(predictions.labels, predictions.probabilities, {
        threshold: at,
        bootstrapSamples: spec.bootstrapSamples,
        seed: spec.split.seed,
      });
    const metrics = score(threshold.threshold);
    const metricsAtDefault = calibration ? score(0.5) : undefined;
    const parameters = model.countParams();
    if (ctx.modelsDir) {
      await saveModelDir(`${ctx.modelsDir}/${spec.id}`, model, {
        format: 'fedxray-model',
        version: 1,
        architecture: spec.architecture,
        width: spec.width,
        preprocessing: spec.preprocessing,
        classes: ['NORMAL', 'PNEUMONIA'],
        threshold,
        parameters,
        createdAt: new Date().toISOString(),
        training: { source: 'bench/paper', id: spec.id, spec },
        validation: metrics,
      });
    }
    const machine = await describeMachine();
    const wallSeconds = (performance.now() - started) / 1000;
    const result: ExperimentResult = {
      format: RESULT_FORMAT,
      version: RESULT_VERSION,
      id: spec.id,
      kind: spec.kind,
      title: spec.title,
      groups: ctx.groups,
      profile: ctx.profile,
      dryRun: ctx.dryRun,
      spec,
      data: data.identity,
      metrics,
      valLoss: predictions.loss,
      threshold,
      ...(calibration ? { calibration, metricsAtDefault } : {}),
      ...(classWeights ? { classWeights } : {}),
      stepLabel,
      history,
      ...(partitions ? { partitions } : {}),
      ...(rounds ? { rounds } : {}),
      parameters,
      wallSeconds,
      trainSeconds,
      trainImagesPerSecond: trainSeconds > 0 ? trainedImages / trainSeconds : 0,
      backend: ctx.backend,
      workers,
      jobs: ctx.jobs,
      machine: { ...machine, loadAverageStart, loadAverageEnd: loadavg() },
      software: { node: process.version, commit: await gitCommit() },
      startedAt,
      finishedAt: new Date().toISOString(),
    };
    await writeJsonAtomic(resultPath(ctx.resultsDir, spec.id), result);
    log(
      `${prefix} done in ${wallSeconds.toFixed(1)} s: accuracy ${metrics.accuracy.value.toFixed(4)}, AUC ${metrics.auc.value.toFixed(4)} (n = ${metrics.n})`,
    );
    return result;
  } finally {
    model.dispose();
  }
}
