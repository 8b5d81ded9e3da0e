import type { WeightArray } from '../model/model-weights.ts';
import type { ClientWeights } from './strategy.ts';

/** ||w_j - w_global||_2 over every weight, in float64, read one tensor at a time. */
export async function updateNorm(
  reference: readonly WeightArray[],
  update: ClientWeights,
): Promise<number> {
  let sum = 0;
  const largest = reference.reduce((max, w) => Math.max(max, w.data.length), 0);
  const scratch = new Float32Array(largest);
  for (const ref of reference) {
    const data = await update.tensor(ref.name, scratch);
    if (!data || data.length !== ref.data.length) {
      throw new Error(`the update has no weight ${ref.name} of ${ref.data.length} values`);
    }
    for (let k = 0; k < ref.data.length; k++) {
      const d = data[k] - ref.data[k];
      sum += d * d;
    }
  }
  return Math.sqrt(sum);
}

export interface NormOutlier<Id> {
  id: Id;
  norm: number;
  median: number;
  /** norm / median (Infinity when the median is 0). */
  ratio: number;
  reason: string;
}

/** Below this many updates a median says nothing about which one is odd. */
export const MIN_UPDATES_FOR_NORM_CHECK = 3;

/**
 * Updates whose norm is more than `maxRatio` times the round's median norm, or less than
 * median / maxRatio (a model sent back unchanged, or nearly so). The median of all the round's
 * norms is robust to a minority of poisoned updates; with fewer than three updates nothing is
 * flagged, and maxRatio 0 turns the check off.
 */
export function findNormOutliers<Id>(
  norms: readonly { id: Id; norm: number }[],
  maxRatio: number,
): NormOutlier<Id>[] {
  if (maxRatio === 0 || norms.length < MIN_UPDATES_FOR_NORM_CHECK) return [];
  if (!(maxRatio > 1)) throw new RangeError(`maxRatio must be 0 (off) or above 1, got ${maxRatio}`);
  const sorted = norms.map((n) => n.norm).sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  if (!(median > 0)) return [];
  const outliers: NormOutlier<Id>[] = [];
  for (const { id, norm } of norms) {
    const ratio = norm / median;
    const tooLarge = ratio > maxRatio;
    const tooSmall = ratio < 1 / maxRatio;
    if (!tooLarge && !tooSmall && Number.isFinite(norm)) continue;
    outliers.push({
      id,
      norm,
      median,
      ratio,
      reason:
        `update norm ${fmt(norm)} is ${fmt(ratio)}x the round's median ${fmt(median)} ` +
        `(allowed ${fmt(1 / maxRatio)}x to ${fmt(maxRatio)}x)`,
    });
  }
  return outliers;
}

function fmt(value: number): string {
  return Number.isFinite(value) ? Number(value.toPrecision(4)).toString() : String(value);
}
