import type { ConfusionMatrix } from './types.ts';
import { checkBinaryInputs } from './input.ts';

/** Confusion matrix where a sample is predicted positive iff its probability >= threshold. */
export function confusionMatrix(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  threshold: number,
): ConfusionMatrix {
  checkBinaryInputs(labels, probabilities);
  const m: ConfusionMatrix = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let i = 0; i < labels.length; i++) {
    const predicted = probabilities[i] >= threshold;
    if (labels[i] === 1) {
      if (predicted) m.tp++;
      else m.fn++;
    } else if (predicted) m.fp++;
    else m.tn++;
  }
  return m;
}

/** F1 = 2tp / (2tp + fp + fn), or undefined when there are neither positives nor predicted positives. */
export function f1Score(tp: number, fp: number, fn: number): number | undefined {
  const denominator = 2 * tp + fp + fn;
  return denominator > 0 ? (2 * tp) / denominator : undefined;
}
