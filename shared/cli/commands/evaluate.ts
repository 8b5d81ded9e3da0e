import { loadDataset } from '../../data/index.ts';
import {
  computeMetrics,
  formatReportTable,
  pointEstimates,
  probabilisticScores,
  type EvaluationReport,
  type PointEstimates,
  type ProbabilisticScores,
} from '../../metrics/index.ts';
import { loadPredictorDir } from '../../model/ensemble.ts';
import { initBackend } from '../../tf/backend.ts';
import { predictRecords } from '../../training/predict.ts';
import { groupFigures } from '../../metrics/groups.ts';
import { formatCorruptionTable, runCorruptionSuite } from '../../robustness/suite.ts';
import { createProgress } from '../progress.ts';
import { TTA_POLICIES } from '../../model/tta.ts';
import { choiceOpt, flag, numberOpt, parseCommandArgs, stringOpt } from '../options.ts';
import { info, printJson } from '../output.ts';

export const EVALUATE_HELP = `fedxray evaluate --model DIR --data DIR [--threshold T] [--bootstrap 1000] [--json]
  Scores a model or an ensemble (fedxray ensemble) on any labelled directory (NORMAL/ and PNEUMONIA/ folders, or a manifest.csv).
  PNEUMONIA is the positive class; the threshold stored with the model is used unless --threshold.
  --json prints one object: accuracy, precision, recall, specificity, f1, auc, n, confusion,
  ci95 (95% intervals: Wilson for proportions, bootstrap for F1, AUC and the scores below),
  threshold, model, and the threshold-free scores of the probabilities: logLoss (nats), brier
  and ece (15 equal-width bins of max(p, 1 - p)); lower is better for all three.
  groups: per image group of the Kermany file names (bacterial, viral, normal-IM,
  normal-NORMAL2): n, the share on the correct side of the threshold, the mean probability.
  --corruptions: also the corruption suite (13 acquisition changes x 3 severities, AUC and
  specificity under each, mAUC-C and mSpec-C; docs/robust-protocol.md), as \`corruption\`.
  --tta none|affine5: score with this test-time augmentation instead of the model's own
  (affine5: the mean over the image, zoomed to 0.9 and 1.1, and shifted 5% left and right).`;

export interface EvaluationJson extends PointEstimates {
  n: number;
  confusion: EvaluationReport['confusion'];
  threshold: number;
  logLoss: number;
  brier: number;
  ece: number;
  ci95: Record<
    | 'accuracy'
    | 'precision'
    | 'recall'
    | 'specificity'
    | 'f1'
    | 'auc'
    | 'logLoss'
    | 'brier'
    | 'ece',
    [number, number]
  >;
  ciMethod: string;
  loss: number;
  model: { dir: string; architecture: string; inputSize: number };
  data: string;
}

export async function evaluateCommand(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, {
    model: { type: 'string' },
    data: { type: 'string' },
    threshold: { type: 'string' },
    bootstrap: { type: 'string' },
    seed: { type: 'string' },
    backend: { type: 'string' },
    json: { type: 'boolean' },
    corruptions: { type: 'boolean' },
    tta: { type: 'string' },
  });
  const modelDir = stringOpt(args, 'model');
  const dataDir = stringOpt(args, 'data');
  await initBackend({
    preferred: typeof args.values.backend === 'string' ? args.values.backend : undefined,
  });
  const records = await loadDataset(dataDir);
  const tta =
    args.values.tta === undefined ? undefined : choiceOpt(args, 'tta', TTA_POLICIES, 'none');
  const predictor = await loadPredictorDir(modelDir, { tta });
  const { metadata } = predictor;
  const model = predictor.score;
  try {
    const threshold = numberOpt(args, 'threshold', metadata.threshold.threshold, {
      min: 0,
      max: 1,
    });
    const progress = createProgress({ label: 'evaluate', total: records.length });
    const predictions = await predictRecords(model, records, metadata.preprocessing, {
      onProgress: (done) => progress.update(done),
    });
    progress.done();
    const bootstrapSamples = numberOpt(args, 'bootstrap', 1000, {
      integer: true,
      min: 0,
      max: 100000,
    });
    const seed = numberOpt(args, 'seed', 42, { integer: true, min: 0 });
    const report = computeMetrics(predictions.labels, predictions.probabilities, {
      threshold,
      bootstrapSamples,
      seed,
    });
    const scores = probabilisticScores(predictions.labels, predictions.probabilities, {
      bootstrapSamples,
      seed,
    });
    const groups = groupFigures(
      records.map((r) => r.path),
      predictions.labels,
      predictions.probabilities,
      threshold,
    );
    let corruption;
    if (flag(args, 'corruptions')) {
      const suiteProgress = createProgress({ label: 'corruptions', total: 40 });
      corruption = await runCorruptionSuite(model, records, metadata.preprocessing, threshold, {
        onProgress: (done, total) => suiteProgress.update(done, `${done}/${total} conditions`),
      });
      suiteProgress.done();
    }
    if (flag(args, 'json')) {
      printJson({
        ...toEvaluationJson(
          report,
          scores,
          predictions.loss,
          modelDir,
          metadata.architecture,
          metadata.preprocessing.inputSize,
          dataDir,
        ),
        groups,
        ...(corruption ? { corruption } : {}),
      });
    } else {
      info(
        `${records.length} images from ${dataDir}; model ${modelDir} (${metadata.architecture}, ${metadata.preprocessing.inputSize}px)`,
      );
      process.stdout.write(formatReportTable(report) + '\n' + formatScores(scores) + '\n');
      for (const g of groups)
        process.stdout.write(
          `${g.group}: n ${g.n}, correct ${g.correct.toFixed(4)}, mean P(PNEUMONIA) ${g.meanProbability.toFixed(4)}\n`,
        );
      if (corruption) process.stdout.write('\n' + formatCorruptionTable(corruption) + '\n');
    }
    return 0;
  } finally {
    predictor.dispose();
  }
}

/** The threshold-free scores, one line each, under the metrics table. */
export function formatScores(scores: ProbabilisticScores, digits = 4): string {
  const line = (name: string, e: ProbabilisticScores['logLoss']): string =>
    `${name} ${e.value.toFixed(digits)} [${e.ci95[0].toFixed(digits)}, ${e.ci95[1].toFixed(digits)}]`;
  return [
    line('Log-loss', scores.logLoss),
    line('Brier score', scores.brier),
    line('ECE (15 bins)', scores.ece),
  ].join('\n');
}

export function toEvaluationJson(
  report: EvaluationReport,
  scores: ProbabilisticScores,
  loss: number,
  dir: string,
  architecture: string,
  inputSize: number,
  data: string,
): EvaluationJson {
  return {
    ...pointEstimates(report),
    logLoss: scores.logLoss.value,
    brier: scores.brier.value,
    ece: scores.ece.value,
    n: report.n,
    confusion: report.confusion,
    threshold: report.threshold,
    ci95: {
      accuracy: report.accuracy.ci95,
      precision: report.precision.ci95,
      recall: report.recall.ci95,
      specificity: report.specificity.ci95,
      f1: report.f1.ci95,
      auc: report.auc.ci95,
      logLoss: scores.logLoss.ci95,
      brier: scores.brier.ci95,
      ece: scores.ece.ci95,
    },
    ciMethod: report.ciMethod,
    loss,
    model: { dir, architecture, inputSize },
    data,
  };
}
