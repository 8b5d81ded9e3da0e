import type { WeightArray } from '../model/model-weights.ts';
import { FedAvg, type FedAvgOptions } from './fedavg.ts';
import type { ClientResult, FitAggregate, RoundContext } from './strategy.ts';
import { weightedAverage } from './strategy-utils.ts';

/** FedAvgM's defaults (Hsu et al. 2019 use beta 0.9): the one place they are written. */
export const FEDAVGM_DEFAULTS = Object.freeze({ serverMomentum: 0.9, serverLearningRate: 1 });

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
 * under FedAvg; only the server differs. Selection and evaluation are FedAvg's. The velocity
 * is rebuilt each round from the previous round's input model (serverMomentumStep), so the
 * strategy keeps no state.
 */
export class FedAvgM extends FedAvg {
  override readonly name: string = 'fedavgm';
  override readonly usesPreviousInput: boolean = true;
  private readonly settings: ServerMomentum;

  constructor(options: FedAvgMOptions) {
    super(options);
    this.settings = {
      momentum: options.momentum,
      serverLearningRate: options.serverLearningRate ?? FEDAVGM_DEFAULTS.serverLearningRate,
    };
    checkServerMomentum(this.settings);
  }

  override async aggregateFit(
    ctx: RoundContext,
    results: readonly ClientResult[],
  ): Promise<FitAggregate> {
    if (results.length === 0) return { weights: null, rejected: [], metrics: {} };
    const average = await weightedAverage(ctx.current, results);
    const previous = ctx.round > 1 ? await ctx.previousInput() : undefined;
    return {
      weights: serverMomentumStep(ctx.current, previous, average, this.settings),
      rejected: [],
      metrics: { velocityRestarted: ctx.round > 1 && previous === undefined },
    };
  }
}
