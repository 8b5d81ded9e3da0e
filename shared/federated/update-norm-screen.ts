/**
 * A wrapper strategy (Flower's DP and robust wrappers are the model): before the inner
 * strategy aggregates, each result's distance from the round's input model is measured and
 * the results far from the round's median are left out (findNormOutliers), a guard against a
 * poisoned or broken hospital. Composes with any inner strategy; everything else is the
 * inner strategy's.
 */
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
import { findNormOutliers, updateNorm } from './update-norms.ts';

/** One result's update norm as the wrapper reports it in the round's metrics. */
export interface UpdateNormEntry {
  clientId: string;
  norm: number;
  rejected: boolean;
}

export class UpdateNormScreen implements Strategy {
  readonly name: string;
  readonly usesPreviousInput: boolean;

  /** @param maxRatio the allowed ratio to the median norm; 0 turns the screen off. */
  constructor(
    private readonly inner: Strategy,
    private readonly maxRatio: number,
  ) {
    if (!(maxRatio === 0 || maxRatio > 1))
      throw new RangeError(`maxRatio must be 0 (off) or above 1, got ${maxRatio}`);
    this.name = inner.name;
    this.usesPreviousInput = inner.usesPreviousInput;
  }

  configureFit(round: number, available: readonly ClientInfo[], rng: Rng): FitInstruction[] {
    return this.inner.configureFit(round, available, rng);
  }

  async aggregateFit(ctx: RoundContext, results: readonly ClientResult[]): Promise<FitAggregate> {
    // One update at a time: the screen's own pass over the files, before the inner strategy's.
    const norms: { id: string; norm: number }[] = [];
    for (const r of results)
      norms.push({ id: r.clientId, norm: await updateNorm(ctx.current, r.weights) });
    const outliers = findNormOutliers(norms, this.maxRatio);
    const out = new Set(outliers.map((o) => o.id));
    const inner = await this.inner.aggregateFit(
      ctx,
      results.filter((r) => !out.has(r.clientId)),
    );
    const updateNorms: UpdateNormEntry[] = norms.map((n) => ({
      clientId: n.id,
      norm: n.norm,
      rejected: out.has(n.id),
    }));
    return {
      weights: inner.weights,
      rejected: [
        ...outliers.map((o) => ({
          clientId: o.id,
          reason: `rejected as an outlier: ${o.reason}`,
          details: {
            norm: o.norm,
            median: o.median,
            ratio: Number.isFinite(o.ratio) ? o.ratio : null,
          },
        })),
        ...inner.rejected,
      ],
      metrics: { ...inner.metrics, updateNorms },
    };
  }

  configureEvaluate(round: number, contributors: readonly ClientInfo[]): string[] {
    return this.inner.configureEvaluate(round, contributors);
  }

  aggregateEvaluate(round: number, results: readonly EvaluateResult[]): Record<string, number> {
    return this.inner.aggregateEvaluate(round, results);
  }
}
