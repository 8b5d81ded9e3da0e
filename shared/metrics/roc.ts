import { checkBinaryInputs } from './input.ts';
import { rankScores, weightedAuc } from './ranked.ts';

export interface RocPoint {
  fpr: number;
  tpr: number;
  /** Predicted positive iff probability >= threshold. */
  threshold: number;
}

/**
 * ROC AUC by Mann-Whitney (ties count 1/2). Returns undefined when either class is absent;
 * computeMetrics reports that case as 0 with a [0, 1] interval.
 */
export function rocAuc(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
): number | undefined {
  checkBinaryInputs(labels, probabilities);
  return weightedAuc(rankScores(labels, probabilities));
}

/**
 * ROC curve for plotting: one point per distinct score, from (0, 0) to (1, 1). The first
 * point's threshold lies above every score (1 when all scores are below 1) rather than
 * Infinity, so the curve serialises to JSON. A rate whose class is absent is 0 throughout.
 */
export function rocCurve(labels: ArrayLike<number>, probabilities: ArrayLike<number>): RocPoint[] {
  checkBinaryInputs(labels, probabilities);
  const { scores, positive, groupEnd } = rankScores(labels, probabilities);
  const n = scores.length;
  if (n === 0) return [];
  let totalPositive = 0;
  for (let r = 0; r < n; r++) totalPositive += positive[r];
  const totalNegative = n - totalPositive;
  const rate = (count: number, total: number): number => (total > 0 ? count / total : 0);

  const top = scores[n - 1];
  const points: RocPoint[] = [{ fpr: 0, tpr: 0, threshold: top < 1 ? 1 : nextUp(top) }];
  let tp = 0;
  let fp = 0;
  // Walk tie groups from the highest score down; each group's score admits the whole group.
  for (let g = groupEnd.length - 1; g >= 0; g--) {
    const start = g > 0 ? groupEnd[g - 1] : 0;
    for (let r = start; r < groupEnd[g]; r++) {
      if (positive[r]) tp++;
      else fp++;
    }
    points.push({
      fpr: rate(fp, totalNegative),
      tpr: rate(tp, totalPositive),
      threshold: scores[start],
    });
  }
  return points;
}

/** Smallest double greater than x (x finite). */
function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  view.setBigUint64(0, x > 0 ? bits + 1n : bits - 1n);
  return view.getFloat64(0);
}
