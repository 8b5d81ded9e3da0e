import { bootstrapF1Auc } from './bootstrap.ts';
import { confusionMatrix, f1Score } from './confusion.ts';
import { rankScores, weightedAuc } from './ranked.ts';
import { type Estimate, type EvaluationReport, undefinedEstimate } from './types.ts';
import { wilsonInterval } from './wilson.ts';

export interface ComputeMetricsOptions {
  /** Predicted positive (PNEUMONIA) iff probability >= threshold. */
  threshold: number;
  /** Bootstrap resamples for the F1 and AUC intervals; 0 disables them ([0, 1]). Default 1000. */
  bootstrapSamples?: number;
  /** Seed of the bootstrap generator. Default 1. */
  seed?: number;
}

export const DEFAULT_BOOTSTRAP_SAMPLES = 1000;
export const DEFAULT_BOOTSTRAP_SEED = 1;

/**
 * Binary metrics with 95% intervals: Wilson score for the proportions (accuracy, precision,
 * recall, specificity), seeded percentile bootstrap for F1 and AUC. Undefined quantities are
 * reported as 0 with [0, 1] (see EvaluationReport). Throws RangeError on mismatched lengths,
 * labels other than 0/1 or non-finite probabilities.
 */
export function computeMetrics(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  opts: ComputeMetricsOptions,
): EvaluationReport {
  const { threshold } = opts;
  const samples = opts.bootstrapSamples ?? DEFAULT_BOOTSTRAP_SAMPLES;
  const seed = opts.seed ?? DEFAULT_BOOTSTRAP_SEED;
  if (!Number.isFinite(threshold)) throw new RangeError(`threshold ${threshold} is not finite`);
  if (!Number.isInteger(samples) || samples < 0) {
    throw new RangeError(`bootstrapSamples must be a non-negative integer, got ${samples}`);
  }

  const confusion = confusionMatrix(labels, probabilities, threshold);
  const { tp, fp, tn, fn } = confusion;
  const n = labels.length;
  const ranked = rankScores(labels, probabilities);
  const intervals = bootstrapF1Auc(ranked, threshold, samples, seed);
  const f1 = f1Score(tp, fp, fn);
  const auc = weightedAuc(ranked);

  return {
    n,
    threshold,
    accuracy: proportion(tp + tn, n),
    precision: proportion(tp, tp + fp),
    recall: proportion(tp, tp + fn),
    specificity: proportion(tn, tn + fp),
    f1: f1 === undefined ? undefinedEstimate() : { value: f1, ci95: intervals.f1 },
    auc: auc === undefined ? undefinedEstimate() : { value: auc, ci95: intervals.auc },
    confusion,
    ciMethod:
      samples > 0
        ? `Wilson score 95% (accuracy, precision, recall, specificity); percentile bootstrap 95%, ${samples} resamples, seed ${seed} (F1, AUC)`
        : 'Wilson score 95% (accuracy, precision, recall, specificity); no bootstrap (F1, AUC intervals are [0, 1])',
  };
}

function proportion(successes: number, trials: number): Estimate {
  if (trials === 0) return undefinedEstimate();
  return { value: successes / trials, ci95: wilsonInterval(successes, trials) };
}
