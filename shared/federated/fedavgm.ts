import type { WeightArray } from '../model/model-weights.ts';
import type { Rng } from '../util/random.ts';
import { FedAvg, weightedAverage, type FedAvgOptions } from './fedavg.ts';
import type { ClientInfo, ClientResult, FitInstruction, Strategy } from './strategy.ts';

export interface FedAvgMOptions extends FedAvgOptions {
  /** beta: how much of the previous rounds' update direction is kept (0 = FedAvg). */
  momentum: number;
  /** eta_s: the server's step along the momentum (1 with momentum 0 = FedAvg). */
  serverLearningRate?: number;
}

/**
 * FedAvg with server momentum (Hsu et al., 2019, "FedAvgM"): the weighted average of the
 * hospitals' models gives a pseudo-gradient d = w - avg, which the server smooths across
 * rounds, v = beta v + d, and applies, w' = w - eta_s v. Momentum damps the round-to-round
 * swings that hospitals with very different data (non-IID shares) cause. Hospitals train as
 * under FedAvg; only the server differs. Selection is FedAvg's.
 */
export class FedAvgM implements Strategy {
  readonly name = 'fedavgm';
  private readonly selection: FedAvg;
  private readonly momentum: number;
  private readonly serverLearningRate: number;
  /** v, by weight name, in float64 (kept across rounds). */
  private velocity = new Map<string, Float64Array>();

  constructor(options: FedAvgMOptions) {
    if (!(options.momentum >= 0 && options.momentum < 1)) {
      throw new Error(`FedAvgM momentum must be in [0, 1), got ${options.momentum}`);
    }
    const eta = options.serverLearningRate ?? 1;
    if (!(eta > 0 && eta <= 10)) {
      throw new Error(`FedAvgM server learning rate must be in (0, 10], got ${eta}`);
    }
    this.selection = new FedAvg(options);
    this.momentum = options.momentum;
    this.serverLearningRate = eta;
  }

  configureRound(round: number, available: readonly ClientInfo[], rng: Rng): FitInstruction[] {
    return this.selection.configureRound(round, available, rng);
  }

  aggregate(
    _round: number,
    current: readonly WeightArray[],
    results: readonly ClientResult[],
  ): WeightArray[] {
    const average = weightedAverage(current, results);
    return current.map((w, i) => {
      const avg = average[i].data;
      let v = this.velocity.get(w.name);
      if (!v || v.length !== w.data.length) {
        v = new Float64Array(w.data.length);
        this.velocity.set(w.name, v);
      }
      const next = new Float32Array(w.data.length);
      for (let k = 0; k < next.length; k++) {
        v[k] = this.momentum * v[k] + (w.data[k] - avg[k]);
        next[k] = w.data[k] - this.serverLearningRate * v[k];
      }
      return { name: w.name, shape: [...w.shape], data: next };
    });
  }
}
