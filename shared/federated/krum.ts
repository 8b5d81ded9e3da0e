/**
 * Multi-Krum (Blanchard et al., 2017; El Mhamdi et al., 2018): with f of the n hospitals
 * assumed Byzantine, each update is scored by the sum of its squared distances to its n - f - 2
 * nearest other updates, and the m best-scored are averaged (m = 1 is Krum). An attacker must
 * stay close to the honest updates to be selected, so it cannot pull the model far. Needs
 * n >= 2f + 3. The selected models are averaged unweighted: a sample count is the hospital's
 * own claim, which a Byzantine hospital could inflate. Selection and evaluation are FedAvg's.
 */
import { FedAvg, type FedAvgOptions } from './fedavg.ts';
import type { ClientResult, FitAggregate, RoundContext } from './strategy.ts';
import { AggregationRefused, clientTensor, weightedAverage } from './strategy-utils.ts';

/** The one place Krum's defaults are written: f = 1, m = 1 (Krum itself). */
export const KRUM_DEFAULTS = Object.freeze({ byzantine: 1, krumSelect: 1 });

export interface KrumOptions extends FedAvgOptions {
  /** f: how many of a round's hospitals may be Byzantine. */
  byzantine: number;
  /** m: how many best-scored updates are averaged (1 = Krum). */
  select: number;
}

/** One update's Krum score as the round's metrics report it. */
export interface KrumScore {
  clientId: string;
  /** Sum of squared distances to its n - f - 2 nearest other updates. */
  score: number;
  selected: boolean;
}

export function checkKrumSettings(byzantine: number, select: number): void {
  if (!(Number.isInteger(byzantine) && byzantine >= 0))
    throw new RangeError(`Krum's f (byzantine) must be an integer >= 0, got ${byzantine}`);
  if (!(Number.isInteger(select) && select >= 1))
    throw new RangeError(`Krum's m (krumSelect) must be an integer >= 1, got ${select}`);
}

/**
 * Squared Euclidean distances between every pair of updates, accumulated tensor by tensor in
 * one pass over the updates (a tensor of each at a time), in float64. Symmetric, zero diagonal.
 */
export async function pairwiseSquaredDistances(
  ctx: RoundContext,
  results: readonly ClientResult[],
): Promise<Float64Array[]> {
  const n = results.length;
  const d = Array.from({ length: n }, () => new Float64Array(n));
  for (const ref of ctx.current) {
    const sources = [];
    for (const r of results) sources.push(await clientTensor(r, ref));
    for (let i = 0; i < n; i++) {
      const a = sources[i];
      for (let j = i + 1; j < n; j++) {
        const b = sources[j];
        let sum = 0;
        for (let c = 0; c < a.length; c++) {
          const diff = a[c] - b[c];
          sum += diff * diff;
        }
        d[i][j] += sum;
        d[j][i] += sum;
      }
    }
  }
  return d;
}

/**
 * Each update's score (sum of its n - f - 2 smallest distances to the others) and the indices
 * of the m best, lowest score first; equal scores go to the earlier result. Throws when
 * n < 2f + 3 or m > n - f.
 */
export function krumSelect(
  distances: readonly Float64Array[],
  byzantine: number,
  select: number,
): { scores: number[]; selected: number[] } {
  checkKrumSettings(byzantine, select);
  const n = distances.length;
  if (n < 2 * byzantine + 3)
    throw new AggregationRefused(
      `Krum with f = ${byzantine} needs n >= 2f + 3 = ${2 * byzantine + 3} updates, got ${n}`,
    );
  if (select > n - byzantine)
    throw new AggregationRefused(
      `Multi-Krum selects m <= n - f = ${n - byzantine} of ${n} updates, got m = ${select}`,
    );
  const neighbours = n - byzantine - 2;
  const scores = distances.map((row, i) => {
    const others = Array.from(row).filter((_, j) => j !== i);
    others.sort((a, b) => a - b);
    return others.slice(0, neighbours).reduce((s, v) => s + v, 0);
  });
  const order = scores.map((_, i) => i).sort((a, b) => scores[a] - scores[b] || a - b);
  return { scores, selected: order.slice(0, select).sort((a, b) => a - b) };
}

export class Krum extends FedAvg {
  override readonly name: string = 'krum';
  private readonly byzantine: number;
  private readonly select: number;

  constructor(options: KrumOptions) {
    super(options);
    checkKrumSettings(options.byzantine, options.select);
    this.byzantine = options.byzantine;
    this.select = options.select;
  }

  override async aggregateFit(
    ctx: RoundContext,
    results: readonly ClientResult[],
  ): Promise<FitAggregate> {
    if (results.length === 0) return { weights: null, rejected: [], metrics: {} };
    if (results.length < 2 * this.byzantine + 3)
      throw new AggregationRefused(
        `Krum with f = ${this.byzantine} needs n >= 2f + 3 = ${2 * this.byzantine + 3} updates, got ${results.length}`,
      );
    const distances = await pairwiseSquaredDistances(ctx, results);
    const { scores, selected } = krumSelect(distances, this.byzantine, this.select);
    const chosen = new Set(selected);
    // A second pass over the selected updates only; each counts once, whatever it claims.
    const weights = await weightedAverage(
      ctx.current,
      selected.map((i) => ({ ...results[i], numSamples: 1 })),
    );
    const krum: KrumScore[] = results.map((r, i) => ({
      clientId: r.clientId,
      score: scores[i],
      selected: chosen.has(i),
    }));
    return {
      weights,
      rejected: [],
      metrics: { krum: { byzantine: this.byzantine, select: this.select, scores: krum } },
    };
  }
}
