import type { PointEstimates } from '../../../shared/metrics/index.ts';
import type { UpdateMetrics } from '../../../shared/protocol/stored-metrics.ts';
import type { EvaluateResult } from '../../../shared/federated/strategy.ts';
import { weightedMetricMeans } from '../../../shared/federated/strategy-utils.ts';
import type { Evaluation } from '../schemas/hospital-node.ts';
import type { PooledMetrics } from './calibration.ts';

export interface AcceptedUpdate {
  hospitalId: string;
  numSamples: number;
  metrics: UpdateMetrics;
}

export interface TrainSummary {
  numSamples: number;
  hospitals: number;
  loss: number | null;
  accuracy: number | null;
}

/** The hospitals' local training loss and accuracy, weighted by their sample counts. */
export function trainSummary(updates: readonly AcceptedUpdate[]): TrainSummary {
  const numSamples = updates.reduce((sum, u) => sum + u.numSamples, 0);
  const mean = (key: 'loss' | 'accuracy'): number | null => {
    let total = 0;
    let weight = 0;
    for (const u of updates) {
      const value = u.metrics[key];
      if (value !== undefined) {
        total += value * u.numSamples;
        weight += u.numSamples;
      }
    }
    return weight > 0 ? total / weight : null;
  };
  return { numSamples, hospitals: updates.length, loss: mean('loss'), accuracy: mean('accuracy') };
}

export interface ValidationSummary extends PointEstimates {
  n: number;
  hospitals: number;
  loss: number;
  confusion: Evaluation['confusion'];
  /** The pooled metrics at the model's chosen threshold, when the histograms give them exactly. */
  atThreshold: PooledMetrics | null;
}

const WEIGHTED = ['loss', 'accuracy', 'precision', 'recall', 'specificity', 'f1', 'auc'] as const;

/**
 * The hospitals' validation metrics (at the threshold they evaluated at, 0.5) weighted by their
 * validation sizes n (accuracy weighted so is the pooled accuracy; AUC cannot be pooled from
 * summaries, so it is the weighted mean too); confusion counts summed. Null when no hospital
 * answered.
 */
export function validationSummary(
  evaluations: readonly Evaluation[],
  atThreshold: PooledMetrics | null = null,
  combine: (results: readonly EvaluateResult[]) => Record<string, number> = weightedMetricMeans,
): ValidationSummary | null {
  const n = evaluations.reduce((sum, e) => sum + e.n, 0);
  if (n === 0) return null;
  const summary: ValidationSummary = {
    n,
    hospitals: evaluations.length,
    loss: 0,
    accuracy: 0,
    precision: 0,
    recall: 0,
    specificity: 0,
    f1: 0,
    auc: 0,
    confusion: { tp: 0, fp: 0, tn: 0, fn: 0 },
    atThreshold,
  };
  const combined = combine(
    evaluations.map((e, i) => ({
      clientId: String(i),
      numExamples: e.n,
      metrics: Object.fromEntries(WEIGHTED.map((key) => [key, e[key]])),
    })),
  );
  for (const key of WEIGHTED) summary[key] = combined[key] ?? 0;
  for (const e of evaluations) {
    for (const key of ['tp', 'fp', 'tn', 'fn'] as const) summary.confusion[key] += e.confusion[key];
  }
  return summary;
}
