/**
 * DP-FedAvg (McMahan, Ramage, Talwar, Zhang 2018, "Learning Differentially Private Recurrent
 * Language Models"), hospital-level, as a wrapper strategy: each hospital's update
 * Delta_j = w_j - w is clipped to L2 norm C over all its tensors, the clipped updates are
 * averaged with equal weights, and N(0, (z C / m)^2) noise is added to every coordinate of the
 * average, m the number of updates aggregated. Neighbouring federations differ by adding or
 * removing one hospital: that changes the clipped sum by at most C, so the noised sum is the
 * Gaussian mechanism with noise multiplier z (shared/privacy/rdp-accountant.ts counts it).
 *
 * Equal weights, not n_j / n: with sample-count shares one large hospital's update could move
 * the average by more than C / m, and the sample counts themselves would depend on the data
 * (McMahan et al. bound each user's weight for the same reason). The inner strategy then sees
 * one result, the noised average, so whatever it does with it (FedAvgM's momentum) is
 * post-processing and costs no privacy.
 *
 * The noise protects what leaves the aggregator: the models. The aggregator itself sees each
 * hospital's raw update (central DP, a trusted server), and the wrapper reports no per-hospital
 * norm or clipping flag, which would leak outside the guarantee.
 */
import type { WeightArray } from '../model/model-weights.ts';
import type { GaussianSource } from '../privacy/gaussian.ts';
import type { Rng } from '../util/random.ts';
import type {
  ClientInfo,
  ClientResult,
  EvaluateResult,
  FitAggregate,
  FitInstruction,
  RoundContext,
  Strategy,
} from './strategy.ts';
import { clientTensor, inMemoryWeights, scratchFor } from './strategy-utils.ts';
import { updateNorm } from './update-norms.ts';

export interface DpFedAvgOptions {
  /** C: the L2 bound of one hospital's update over all tensors. */
  clipNorm: number;
  /** z: the noise's standard deviation on the clipped sum, in units of C. */
  noiseMultiplier: number;
  noise: GaussianSource;
}

/** What the wrapper reports with the round (stored in its metrics as `dp`). */
export interface DpRoundFigures {
  clipNorm: number;
  noiseMultiplier: number;
  /** z C / m: the noise's standard deviation per coordinate of the average. */
  noiseStd: number;
  /** m: the updates averaged. */
  aggregated: number;
  cryptographicNoise: boolean;
}

/** The pseudo-client the inner strategy sees: the noised average. */
export const DP_AVERAGE_ID = 'dp-average';

/** Scale min(1, C / ||Delta||) that clips an update of norm `norm` to C. */
export function clipFactor(norm: number, clipNorm: number): number {
  return norm > clipNorm ? clipNorm / norm : 1;
}

export class DpFedAvg implements Strategy {
  readonly name: string;
  readonly usesPreviousInput: boolean;

  constructor(
    private readonly inner: Strategy,
    private readonly options: DpFedAvgOptions,
  ) {
    if (!(options.clipNorm > 0 && Number.isFinite(options.clipNorm)))
      throw new RangeError(`the clip norm C must be positive, got ${options.clipNorm}`);
    if (!(options.noiseMultiplier >= 0 && Number.isFinite(options.noiseMultiplier)))
      throw new RangeError(`the noise multiplier z must be >= 0, got ${options.noiseMultiplier}`);
    this.name = inner.name;
    this.usesPreviousInput = inner.usesPreviousInput;
  }

  configureFit(round: number, available: readonly ClientInfo[], rng: Rng): FitInstruction[] {
    return this.inner.configureFit(round, available, rng);
  }

  async aggregateFit(ctx: RoundContext, results: readonly ClientResult[]): Promise<FitAggregate> {
    if (results.length === 0) return this.inner.aggregateFit(ctx, []);
    const average = await this.noisedClippedMean(ctx.current, results);
    const inner = await this.inner.aggregateFit(ctx, [
      { clientId: DP_AVERAGE_ID, numSamples: 1, weights: inMemoryWeights(average) },
    ]);
    const m = results.length;
    const dp: DpRoundFigures = {
      clipNorm: this.options.clipNorm,
      noiseMultiplier: this.options.noiseMultiplier,
      noiseStd: (this.options.noiseMultiplier * this.options.clipNorm) / m,
      aggregated: m,
      cryptographicNoise: this.options.noise.cryptographic,
    };
    return {
      weights: inner.weights,
      rejected: inner.rejected.filter((r) => r.clientId !== DP_AVERAGE_ID),
      metrics: { ...inner.metrics, dp },
    };
  }

  /**
   * w + (sum_j s_j Delta_j) / m + N(0, (z C / m)^2), s_j = min(1, C / ||Delta_j||). Two passes
   * over the updates, one tensor of one update at a time: the norms first (each s_j needs the
   * whole update), then the clipped sum tensor by tensor.
   */
  private async noisedClippedMean(
    reference: readonly WeightArray[],
    results: readonly ClientResult[],
  ): Promise<WeightArray[]> {
    const { clipNorm, noiseMultiplier, noise } = this.options;
    const scales: number[] = [];
    for (const r of results)
      scales.push(clipFactor(await updateNorm(reference, r.weights), clipNorm));
    const m = results.length;
    const std = (noiseMultiplier * clipNorm) / m;
    const scratch = scratchFor(reference);
    const out: WeightArray[] = [];
    for (const ref of reference) {
      const acc = scratch.sum.subarray(0, ref.data.length).fill(0);
      for (let j = 0; j < m; j++) {
        const data = await clientTensor(results[j], ref, scratch.values);
        const s = scales[j];
        for (let k = 0; k < acc.length; k++) acc[k] += s * (data[k] - ref.data[k]);
      }
      const next = new Float32Array(ref.data.length);
      for (let k = 0; k < next.length; k++) {
        const z = std > 0 ? std * noise.next() : 0;
        next[k] = ref.data[k] + acc[k] / m + z;
      }
      out.push({ name: ref.name, shape: [...ref.shape], data: next });
    }
    return out;
  }

  configureEvaluate(round: number, contributors: readonly ClientInfo[]): string[] {
    return this.inner.configureEvaluate(round, contributors);
  }

  aggregateEvaluate(round: number, results: readonly EvaluateResult[]): Record<string, number> {
    return this.inner.aggregateEvaluate(round, results);
  }
}
