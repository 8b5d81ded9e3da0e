import type { WeightArray } from '../model/model-weights.ts';
import type { Rng } from '../util/random.ts';
import type { ClientInfo, ClientResult, FitInstruction, Strategy } from './strategy.ts';

export interface FedAvgOptions {
  /** C: fraction of the J available hospitals sampled each round. */
  fraction: number;
  /** Extra per-round settings passed to each selected client. */
  fitConfig?: Record<string, number | string | boolean>;
}

/** m = max(round(C x J), 1), never more than J. */
export function clientsPerRound(fraction: number, available: number): number {
  return Math.min(available, Math.max(Math.round(fraction * available), 1));
}

/**
 * Federated averaging (McMahan et al., 2017): the new global model is the mean of the client
 * models weighted by each client's sample count n_j / n. Sums run in float64.
 */
export class FedAvg implements Strategy {
  readonly name = 'fedavg';

  constructor(private readonly options: FedAvgOptions) {
    if (!(options.fraction > 0 && options.fraction <= 1)) {
      throw new Error(`FedAvg fraction C must be in (0, 1], got ${options.fraction}`);
    }
  }

  configureRound(round: number, available: readonly ClientInfo[], rng: Rng): FitInstruction[] {
    if (available.length === 0) return [];
    const m = clientsPerRound(this.options.fraction, available.length);
    const chosen = rng.shuffle([...available]).slice(0, m);
    chosen.sort((a, b) => a.id.localeCompare(b.id));
    return chosen.map((c) => ({ clientId: c.id, config: { round, ...this.options.fitConfig } }));
  }

  aggregate(
    _round: number,
    current: readonly WeightArray[],
    results: readonly ClientResult[],
  ): WeightArray[] {
    return weightedAverage(current, results);
  }
}

export function weightedAverage(
  reference: readonly WeightArray[],
  results: readonly ClientResult[],
): WeightArray[] {
  if (results.length === 0) throw new Error('Cannot aggregate a round with no client results');
  const total = results.reduce((sum, r) => sum + r.numSamples, 0);
  if (!(total > 0)) throw new Error('Cannot aggregate: client sample counts sum to zero');
  const lookups = results.map((r) => new Map(r.weights.map((w) => [w.name, w])));
  return reference.map((ref) => {
    const acc = new Float64Array(ref.data.length);
    results.forEach((result, i) => {
      const w = lookups[i].get(ref.name);
      if (!w || w.data.length !== acc.length) {
        throw new Error(
          `Client ${result.clientId} sent no weight ${ref.name} of ${acc.length} values`,
        );
      }
      const share = result.numSamples / total;
      for (let k = 0; k < acc.length; k++) acc[k] += share * w.data[k];
    });
    return { name: ref.name, shape: [...ref.shape], data: Float32Array.from(acc) };
  });
}
