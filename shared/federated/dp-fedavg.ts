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
  /** C: the L2 bound of one hospital's update over all tensors (the first round's, when adaptive). */
  clipNorm: number;
  /**
   * z: the mechanism's noise multiplier, the one the accountant counts. Without adaptive
   * clipping all of it is on the clipped sum.
   */
  noiseMultiplier: number;
  noise: GaussianSource;
  adaptive?: AdaptiveClipping;
}

/**
 * Adaptive clipping (Andrew, Thakkar, McMahan, Ramaswamy 2021, "Differentially Private Learning
 * with Adaptive Clipping"): after each round C <- C exp(-eta (b - gamma)), b the noised fraction
 * of updates that were not clipped, so C follows the gamma quantile of the update norms. The
 * count is a second Gaussian mechanism: b = (sum_j (b_j - 1/2) + N(0, sigma_b^2)) / m + 1/2,
 * the same number as (sum_j b_j + noise) / m, and the centred sum has sensitivity 1/2 with m
 * taken as public, as for the average's divisor. The update noise becomes
 * z_Delta = (z^-2 - (2 sigma_b)^-2)^(-1/2), so that both together are the Gaussian mechanism
 * with multiplier z (their Theorem 1) and the accountant is unchanged. Needs sigma_b > z / 2.
 * The clip norm is state: this wrapper keeps it between rounds (the simulation's one instance).
 */
export interface AdaptiveClipping {
  /** gamma: the quantile of the update norms C should track (the paper's default 0.5). */
  targetQuantile: number;
  /** eta_C: the geometric step (the paper's default 0.2). */
  learningRate: number;
  /** sigma_b: the noise on the count of unclipped updates (the paper: m / 20). */
  countNoise: number;
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
  /** Adaptive clipping: the noised unclipped fraction b and the next round's C. */
  unclippedFraction?: number;
  nextClipNorm?: number;
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
  private clipNorm: number;
  /** The multiplier on the clipped sum: z, or z_Delta with adaptive clipping. */
  private readonly updateNoise: number;

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
    this.clipNorm = options.clipNorm;
    this.updateNoise = updateNoiseMultiplier(options.noiseMultiplier, options.adaptive);
  }

  /** C for the next round. */
  get currentClipNorm(): number {
    return this.clipNorm;
  }

  configureFit(round: number, available: readonly ClientInfo[], rng: Rng): FitInstruction[] {
    return this.inner.configureFit(round, available, rng);
  }

  async aggregateFit(ctx: RoundContext, results: readonly ClientResult[]): Promise<FitAggregate> {
    if (results.length === 0) return this.inner.aggregateFit(ctx, []);
    const clipNorm = this.clipNorm;
    const { average, unclipped } = await this.noisedClippedMean(ctx.current, results, clipNorm);
    const inner = await this.inner.aggregateFit(ctx, [
      { clientId: DP_AVERAGE_ID, numSamples: 1, weights: inMemoryWeights(average) },
    ]);
    const m = results.length;
    const dp: DpRoundFigures = {
      clipNorm,
      noiseMultiplier: this.options.noiseMultiplier,
      noiseStd: (this.updateNoise * clipNorm) / m,
      aggregated: m,
      cryptographicNoise: this.options.noise.cryptographic,
    };
    const adaptive = this.options.adaptive;
    if (adaptive) {
      const b = (unclipped + adaptive.countNoise * this.options.noise.next()) / m;
      this.clipNorm = clipNorm * Math.exp(-adaptive.learningRate * (b - adaptive.targetQuantile));
      Object.assign(dp, { unclippedFraction: b, nextClipNorm: this.clipNorm });
    }
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
    clipNorm: number,
  ): Promise<{ average: WeightArray[]; unclipped: number }> {
    const { noise } = this.options;
    const scales: number[] = [];
    let unclipped = 0;
    for (const r of results) {
      const norm = await updateNorm(reference, r.weights);
      if (norm <= clipNorm) unclipped++;
      scales.push(clipFactor(norm, clipNorm));
    }
    const m = results.length;
    const std = (this.updateNoise * clipNorm) / m;
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
    return { average: out, unclipped };
  }

  configureEvaluate(round: number, contributors: readonly ClientInfo[]): string[] {
    return this.inner.configureEvaluate(round, contributors);
  }

  aggregateEvaluate(round: number, results: readonly EvaluateResult[]): Record<string, number> {
    return this.inner.aggregateEvaluate(round, results);
  }
}

/** z_Delta = (z^-2 - (2 sigma_b)^-2)^(-1/2) with adaptive clipping, else z. */
export function updateNoiseMultiplier(z: number, adaptive?: AdaptiveClipping): number {
  if (!adaptive) return z;
  const { targetQuantile, learningRate, countNoise } = adaptive;
  if (!(targetQuantile >= 0 && targetQuantile <= 1))
    throw new RangeError(`the target quantile must be in [0, 1], got ${targetQuantile}`);
  if (!(learningRate > 0)) throw new RangeError(`the clip learning rate must be > 0`);
  if (!(countNoise > z / 2))
    throw new RangeError(
      `adaptive clipping needs a count noise sigma_b > z / 2 = ${z / 2}, got ${countNoise}`,
    );
  return 1 / Math.sqrt(z ** -2 - (2 * countNoise) ** -2);
}
