import type { ValidationScore } from '../training/predict.ts';
import type { HistoryPoint } from './plot.ts';

/** One epoch or round as the train/simulate commands report it. */
export interface StepSummary {
  trainLoss: number;
  trainAccuracy: number;
  val?: ValidationScore;
}

export function toHistoryPoint(
  step: number,
  s: StepSummary,
): HistoryPoint & { trainLoss: number; trainAccuracy: number } {
  return {
    step,
    trainLoss: s.trainLoss,
    trainAccuracy: s.trainAccuracy,
    valLoss: s.val?.loss,
    valAccuracy: s.val?.accuracy,
    valAuc: s.val?.auc,
  };
}
