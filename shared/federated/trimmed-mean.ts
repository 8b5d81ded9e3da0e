/**
 * Coordinate-wise trimmed mean (Yin et al., 2018, "Byzantine-robust distributed learning:
 * towards optimal statistical rates"): for every coordinate, the k = floor(beta n) largest and
 * k smallest of the n hospitals' values are dropped and the rest averaged, unweighted. Up to k
 * arbitrary values per coordinate cannot move the result outside the honest values' range;
 * beta 0 is the plain unweighted mean. Selection and evaluation are FedAvg's.
 */
import { FedAvg, type FedAvgOptions } from './fedavg.ts';
import type { ClientResult, FitAggregate, RoundContext } from './strategy.ts';
import { AggregationRefused, clientTensor } from './strategy-utils.ts';

/** The one place the trimmed mean's default is written. */
export const TRIMMED_MEAN_DEFAULTS = Object.freeze({ trimBeta: 0.2 });

export interface TrimmedMeanOptions extends FedAvgOptions {
  /** beta in [0, 0.5): the fraction trimmed from each end of every coordinate's values. */
  beta: number;
}

export function checkTrimBeta(beta: number): void {
  if (!(beta >= 0 && beta < 0.5))
    throw new RangeError(`trimmed-mean beta must be in [0, 0.5), got ${beta}`);
}

/** k = floor(beta n) values dropped from each end; throws when fewer than one would remain. */
export function trimCount(beta: number, n: number): number {
  checkTrimBeta(beta);
  // The epsilon keeps beta n that float arithmetic puts just below an integer (0.3 x 10) on it.
  const k = Math.floor(beta * n + 1e-9);
  if (n - 2 * k < 1)
    throw new AggregationRefused(
      `trimmed mean: trimming ${k} of ${n} values from each end leaves nothing`,
    );
  return k;
}

/** The mean of sorted[k .. n-k), i.e. without the k smallest and k largest; sorts in place. */
export function trimmedMeanOf(values: Float64Array, k: number): number {
  values.sort();
  let sum = 0;
  for (let i = k; i < values.length - k; i++) sum += values[i];
  return sum / (values.length - 2 * k);
}

export class TrimmedMean extends FedAvg {
  override readonly name: string = 'trimmed-mean';
  private readonly beta: number;

  constructor(options: TrimmedMeanOptions) {
    super(options);
    checkTrimBeta(options.beta);
    this.beta = options.beta;
  }

  override async aggregateFit(
    ctx: RoundContext,
    results: readonly ClientResult[],
  ): Promise<FitAggregate> {
    if (results.length === 0) return { weights: null, rejected: [], metrics: {} };
    const k = trimCount(this.beta, results.length);
    // Tensor by tensor, like the median: every hospital's values of one tensor at once.
    const column = new Float64Array(results.length);
    const weights = [];
    for (const ref of ctx.current) {
      const sources = [];
      for (const r of results) sources.push(await clientTensor(r, ref));
      const out = new Float32Array(ref.data.length);
      for (let c = 0; c < out.length; c++) {
        for (let i = 0; i < sources.length; i++) column[i] = sources[i][c];
        out[c] = trimmedMeanOf(column, k);
      }
      weights.push({ name: ref.name, shape: [...ref.shape], data: out });
    }
    return {
      weights,
      rejected: [],
      metrics: { trimmedMean: { beta: this.beta, clients: results.length, trimmedEachEnd: k } },
    };
  }
}
