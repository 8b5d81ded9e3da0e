/**
 * Federated averaging (McMahan et al., 2017): a uniform sample of C x J hospitals trains, and
 * the new global model is the mean of their models weighted by sample count n_j / n.
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
import {
  checkFraction,
  sampleClients,
  weightedAverage,
  weightedMetricMeans,
} from './strategy-utils.ts';

export { clientsPerRound, weightedAverage } from './strategy-utils.ts';

export interface FedAvgOptions {
  /** C: fraction of the J available hospitals sampled each round. */
  fraction: number;
  /** Extra per-round settings passed to each selected client. */
  fitConfig?: Record<string, number | string | boolean>;
}

export class FedAvg implements Strategy {
  readonly name: string = 'fedavg';
  readonly usesPreviousInput: boolean = false;

  constructor(protected readonly options: FedAvgOptions) {
    checkFraction(options.fraction);
  }

  configureFit(round: number, available: readonly ClientInfo[], rng: Rng): FitInstruction[] {
    return sampleClients(round, available, this.options.fraction, rng, this.options.fitConfig);
  }

  async aggregateFit(ctx: RoundContext, results: readonly ClientResult[]): Promise<FitAggregate> {
    return {
      weights: results.length === 0 ? null : await weightedAverage(ctx.current, results),
      rejected: [],
      metrics: {},
    };
  }

  configureEvaluate(_round: number, contributors: readonly ClientInfo[]): string[] {
    return contributors.map((c) => c.id);
  }

  aggregateEvaluate(_round: number, results: readonly EvaluateResult[]): Record<string, number> {
    return weightedMetricMeans(results);
  }
}
