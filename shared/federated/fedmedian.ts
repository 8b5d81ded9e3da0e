/**
 * FedMedian (Yin et al., 2018, "Byzantine-robust distributed learning"): the next global
 * model is the coordinate-wise median of the hospitals' models, unweighted. A minority of
 * arbitrary (poisoned or broken) updates cannot move a median far, where it moves a mean
 * without bound; the price is a noisier step when all updates are honest. Selection and
 * evaluation are FedAvg's. Registered as `median` (the robust-aggregation issue's name) and as
 * `fedmedian`, the name runs stored before it carry: the same algorithm under either name.
 */
import { FedAvg, type FedAvgOptions } from './fedavg.ts';
import type { ClientResult, FitAggregate, RoundContext } from './strategy.ts';
import { clientTensor } from './strategy-utils.ts';

function median(values: Float64Array): number {
  values.sort();
  const mid = values.length >> 1;
  return values.length % 2 === 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

export class FedMedian extends FedAvg {
  override readonly name: string;

  constructor(options: FedAvgOptions & { name?: 'median' | 'fedmedian' }) {
    super(options);
    this.name = options.name ?? 'fedmedian';
  }

  override async aggregateFit(
    ctx: RoundContext,
    results: readonly ClientResult[],
  ): Promise<FitAggregate> {
    if (results.length === 0) return { weights: null, rejected: [], metrics: {} };
    // Tensor by tensor: the median needs every hospital's values of one tensor at once.
    const column = new Float64Array(results.length);
    const weights = [];
    for (const ref of ctx.current) {
      const sources = await Promise.all(results.map((r) => clientTensor(r, ref)));
      const out = new Float32Array(ref.data.length);
      for (let k = 0; k < out.length; k++) {
        for (let i = 0; i < sources.length; i++) column[i] = sources[i][k];
        out[k] = median(column);
      }
      weights.push({ name: ref.name, shape: [...ref.shape], data: out });
    }
    return { weights, rejected: [], metrics: {} };
  }
}
