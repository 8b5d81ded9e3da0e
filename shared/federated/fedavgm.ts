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

/** FedAvgM's server settings: beta in [0, 1), eta_s in (0, 10]. */
export interface ServerMomentum {
  momentum: number;
  serverLearningRate: number;
}

function checkServerMomentum({ momentum, serverLearningRate }: ServerMomentum): void {
  if (!(momentum >= 0 && momentum < 1)) {
    throw new Error(`FedAvgM momentum must be in [0, 1), got ${momentum}`);
  }
  if (!(serverLearningRate > 0 && serverLearningRate <= 10)) {
    throw new Error(`FedAvgM server learning rate must be in (0, 10], got ${serverLearningRate}`);
  }
}

function averageOf(average: readonly WeightArray[], w: WeightArray): Float32Array {
  const found = average.find((a) => a.name === w.name);
  if (!found || found.data.length !== w.data.length) {
    throw new Error(`The average has no weight ${w.name} of ${w.data.length} values`);
  }
  return found.data;
}

/**
 * FedAvgM's server step without state, for a service that must survive restarts: the previous
 * velocity is reconstructed from the stored global models, since w_{t-1} = w_{t-2} - eta_s
 * v_{t-1} gives v_{t-1} = (w_{t-2} - w_{t-1}) / eta_s.
 *
 * @param current w_{t-1}: the round's input model.
 * @param previousInput w_{t-2}: the previous round's input model, or undefined in the first
 *   round (v_{t-1} = 0); a weight it lacks, or has with another length, also starts from 0.
 * @param average the weighted average of the round's accepted updates (weightedAverage).
 * @returns w_t = w_{t-1} - eta_s (beta v_{t-1} + (w_{t-1} - avg)), summed in float64.
 */
export function serverMomentumStep(
  current: readonly WeightArray[],
  previousInput: readonly WeightArray[] | undefined,
  average: readonly WeightArray[],
  settings: ServerMomentum,
): WeightArray[] {
  checkServerMomentum(settings);
  const { momentum, serverLearningRate } = settings;
  const previous = new Map((previousInput ?? []).map((w) => [w.name, w.data]));
  return current.map((w) => {
    const avg = averageOf(average, w);
    const found = previous.get(w.name);
    const before = found && found.length === w.data.length ? found : undefined;
    const next = new Float32Array(w.data.length);
    for (let k = 0; k < next.length; k++) {
      const velocityBefore = before ? (before[k] - w.data[k]) / serverLearningRate : 0;
      const velocity = momentum * velocityBefore + (w.data[k] - avg[k]);
      next[k] = w.data[k] - serverLearningRate * velocity;
    }
    return { name: w.name, shape: [...w.shape], data: next };
  });
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
  private readonly settings: ServerMomentum;
  /** The previous round's input model: the velocity is derived from it and this round's. */
  private previousInput: readonly WeightArray[] | undefined;

  constructor(options: FedAvgMOptions) {
    this.settings = {
      momentum: options.momentum,
      serverLearningRate: options.serverLearningRate ?? 1,
    };
    checkServerMomentum(this.settings);
    this.selection = new FedAvg(options);
  }

  configureRound(round: number, available: readonly ClientInfo[], rng: Rng): FitInstruction[] {
    return this.selection.configureRound(round, available, rng);
  }

  aggregate(
    _round: number,
    current: readonly WeightArray[],
    results: readonly ClientResult[],
  ): WeightArray[] {
    const next = serverMomentumStep(
      current,
      this.previousInput,
      weightedAverage(current, results),
      this.settings,
    );
    this.previousInput = current;
    return next;
  }
}
