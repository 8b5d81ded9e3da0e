/**
 * The decision threshold that reaches a chosen sensitivity or specificity on labelled scores
 * (a deploying site's operating point; predicted PNEUMONIA iff probability >= threshold).
 */
import { checkBinaryInputs } from './input.ts';
import { chooseThreshold } from './threshold.ts';

export interface OperatingTarget {
  metric: 'sensitivity' | 'specificity';
  /** In (0, 1]. */
  value: number;
}

export type TargetThreshold =
  { reached: true; threshold: number; description: string } | { reached: false; reason: string };

/**
 * Sensitivity s: the highest threshold whose sensitivity is >= s (the `min-recall` rule).
 * Specificity v: the lowest threshold whose specificity is >= v, i.e. the smallest number
 * above the score of the k-th lowest NORMAL image, k = ceil(v * negatives): the mirror of
 * min-recall, as close to that image as the rule is to its PNEUMONIA image.
 */
export function thresholdForTarget(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  target: OperatingTarget,
): TargetThreshold {
  checkBinaryInputs(labels, probabilities);
  if (!(target.value > 0 && target.value <= 1)) {
    throw new RangeError(`target ${target.metric} must be in (0, 1], got ${target.value}`);
  }
  const wanted = target.metric === 'sensitivity' ? 1 : 0;
  const scores: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    const p = probabilities[i];
    if (!(p >= 0 && p <= 1))
      throw new RangeError(`probability ${p} at index ${i} is not in [0, 1]`);
    if (labels[i] === wanted) scores.push(p);
  }
  if (scores.length === 0) {
    const name = wanted === 1 ? 'PNEUMONIA' : 'NORMAL';
    return { reached: false, reason: `no ${name} images: their ${target.metric} is undefined` };
  }
  if (target.metric === 'sensitivity') {
    const choice = chooseThreshold(labels, probabilities, {
      kind: 'min-recall',
      recall: target.value,
    });
    return { reached: true, threshold: choice.threshold, description: choice.description };
  }
  scores.sort((a, b) => a - b);
  const needed = Math.max(1, Math.ceil(target.value * scores.length - 1e-9));
  const below = scores[needed - 1];
  // A probability of 1 is PNEUMONIA at every threshold in [0, 1].
  if (below >= 1) {
    return {
      reached: false,
      reason: `${scores.length - needed + 1} NORMAL images score 1: no threshold in [0, 1] makes ${needed} of ${scores.length} NORMAL`,
    };
  }
  const threshold = nextUp(below);
  return {
    reached: true,
    threshold,
    description: `lowest threshold with specificity >= ${target.value}: just above the score ${below} of NORMAL image ${needed} of ${scores.length} (lowest first)`,
  };
}

/** The smallest double above x (x in [0, 1)). */
function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  view.setBigUint64(0, view.getBigUint64(0) + 1n);
  return view.getFloat64(0);
}
