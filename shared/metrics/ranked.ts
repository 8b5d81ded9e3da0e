/**
 * Scores sorted ascending with their labels and tie groups, so AUC and confusion counts can
 * be computed in O(n) for any multiset of the samples (bootstrap resamples are expressed as
 * per-sample multiplicities instead of re-sorting each resample).
 */
export interface RankedScores {
  /** Scores, ascending. */
  scores: Float64Array;
  /** 1 where the sample at that rank is positive. */
  positive: Uint8Array;
  /** groupEnd[g] = one past the last rank of tie group g; groups are in ascending score order. */
  groupEnd: Int32Array;
}

/** Inputs must already be validated (see checkBinaryInputs). */
export function rankScores(labels: ArrayLike<number>, scores: ArrayLike<number>): RankedScores {
  const n = labels.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  const sorted = new Float64Array(n);
  const positive = new Uint8Array(n);
  const ends: number[] = [];
  for (let r = 0; r < n; r++) {
    sorted[r] = scores[order[r]];
    positive[r] = labels[order[r]] === 1 ? 1 : 0;
    if (r > 0 && sorted[r] !== sorted[r - 1]) ends.push(r);
  }
  if (n > 0) ends.push(n);
  return { scores: sorted, positive, groupEnd: Int32Array.from(ends) };
}

/**
 * Mann-Whitney estimate of ROC AUC: P(score of a positive > score of a negative), ties
 * counted 1/2. `weights` are per-rank multiplicities (default 1). Undefined when the
 * (weighted) sample lacks a class.
 */
export function weightedAuc(ranked: RankedScores, weights?: ArrayLike<number>): number | undefined {
  const { positive, groupEnd } = ranked;
  let negativesBelow = 0;
  let totalPositive = 0;
  let pairs = 0;
  let start = 0;
  for (let g = 0; g < groupEnd.length; g++) {
    let groupPositive = 0;
    let groupNegative = 0;
    for (let r = start; r < groupEnd[g]; r++) {
      const w = weights ? weights[r] : 1;
      if (positive[r]) groupPositive += w;
      else groupNegative += w;
    }
    pairs += groupPositive * (negativesBelow + 0.5 * groupNegative);
    negativesBelow += groupNegative;
    totalPositive += groupPositive;
    start = groupEnd[g];
  }
  const totalNegative = negativesBelow;
  if (totalPositive === 0 || totalNegative === 0) return undefined;
  return pairs / (totalPositive * totalNegative);
}

/** Index of the first rank whose score is >= threshold (binary search). */
export function firstRankAtOrAbove(ranked: RankedScores, threshold: number): number {
  let lo = 0;
  let hi = ranked.scores.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ranked.scores[mid] >= threshold) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
