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

/**
 * One tensor's server step, in float64: v = beta v_prev + (w - avg) and w' = w - eta_s v.
 * `previousVelocity` undefined (or of another length) is v_prev = 0. Returns w' (float32) and v.
 */
function momentumTensorStep(
  current: Float32Array,
  average: Float32Array,
  previousVelocity: ((k: number) => number) | undefined,
  { momentum, serverLearningRate }: ServerMomentum,
): { next: Float32Array; velocity: Float64Array } {
  const velocity = new Float64Array(current.length);
  const next = new Float32Array(current.length);
  for (let k = 0; k < current.length; k++) {
    const previous = previousVelocity ? previousVelocity(k) : 0;
    velocity[k] = momentum * previous + (current[k] - average[k]);
    next[k] = current[k] - serverLearningRate * velocity[k];
  }
  return { next, velocity };
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
  const previous = new Map((previousInput ?? []).map((w) => [w.name, w]));
  return current.map((w) => {
    const before = previous.get(w.name)?.data;
    const velocity =
      before && before.length === w.data.length
        ? (k: number) => (before[k] - w.data[k]) / settings.serverLearningRate
        : undefined;
    const { next } = momentumTensorStep(w.data, averageOf(average, w), velocity, settings);
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
  /** v, by weight name, in float64 (kept across rounds). */
  private velocity = new Map<string, Float64Array>();

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
    const average = weightedAverage(current, results);
    return current.map((w) => {
      const before = this.velocity.get(w.name);
      const previous = before && before.length === w.data.length ? before : undefined;
      const { next, velocity } = momentumTensorStep(
        w.data,
        averageOf(average, w),
        previous && ((k: number) => previous[k]),
        this.settings,
      );
      this.velocity.set(w.name, velocity);
      return { name: w.name, shape: [...w.shape], data: next };
    });
  }
}
