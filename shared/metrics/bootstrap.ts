import { createRng } from '../util/random.ts';
import { f1Score } from './confusion.ts';
import { firstRankAtOrAbove, type RankedScores, weightedAuc } from './ranked.ts';

/** Linear-interpolation quantile (R type 7) of values sorted ascending. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError('quantile of an empty sample');
  const position = (n - 1) * q;
  const lo = Math.floor(position);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (position - lo) * (sorted[hi] - sorted[lo]);
}

/** Central percentile interval at `level` (e.g. 0.95) of a bootstrap distribution. */
export function percentileInterval(values: number[], level = 0.95): [number, number] {
  const sorted = Float64Array.from(values).sort();
  const tail = (1 - level) / 2;
  return [quantileSorted(sorted, tail), quantileSorted(sorted, 1 - tail)];
}

export interface BootstrapIntervals {
  f1: [number, number];
  auc: [number, number];
}

/**
 * Percentile-bootstrap 95% intervals for F1 and AUC from `samples` resamples of the n
 * samples with replacement, drawn from a seeded generator so reruns match exactly.
 * Resamples where a statistic is undefined (e.g. a resample without negatives for AUC) are
 * dropped for that statistic; if none remain, or samples is 0, the interval is [0, 1].
 */
export function bootstrapF1Auc(
  ranked: RankedScores,
  threshold: number,
  samples: number,
  seed: number,
): BootstrapIntervals {
  const n = ranked.scores.length;
  if (n === 0 || samples <= 0) return { f1: [0, 1], auc: [0, 1] };
  const rng = createRng(seed);
  const counts = new Uint32Array(n);
  const cut = firstRankAtOrAbove(ranked, threshold);
  const f1s: number[] = [];
  const aucs: number[] = [];
  for (let s = 0; s < samples; s++) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[rng.int(n)]++;

    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let r = 0; r < n; r++) {
      const c = counts[r];
      if (c === 0) continue;
      if (ranked.positive[r]) {
        if (r >= cut) tp += c;
        else fn += c;
      } else if (r >= cut) fp += c;
    }
    const f1 = f1Score(tp, fp, fn);
    if (f1 !== undefined) f1s.push(f1);
    const auc = weightedAuc(ranked, counts);
    if (auc !== undefined) aucs.push(auc);
  }
  return {
    f1: f1s.length > 0 ? percentileInterval(f1s) : [0, 1],
    auc: aucs.length > 0 ? percentileInterval(aucs) : [0, 1],
  };
}
