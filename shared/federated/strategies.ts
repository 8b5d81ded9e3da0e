import { FedAvg } from './fedavg.ts';
import { FedAvgM } from './fedavgm.ts';
import type { Strategy } from './strategy.ts';

export const STRATEGY_NAMES = ['fedavg', 'fedavgm'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** A strategy's name and settings, as a run records them. */
export interface StrategySpec {
  name: StrategyName;
  /** C: fraction of the hospitals sampled per round. */
  fraction: number;
  /** fedavgm: beta (default 0.9). */
  serverMomentum?: number;
  /** fedavgm: eta_s (default 1). */
  serverLearningRate?: number;
}

/** The strategy a spec names: FedAvg, or FedAvg with server momentum. */
export function createStrategy(spec: StrategySpec): Strategy {
  switch (spec.name) {
    case 'fedavg':
      return new FedAvg({ fraction: spec.fraction });
    case 'fedavgm':
      return new FedAvgM({
        fraction: spec.fraction,
        momentum: spec.serverMomentum ?? 0.9,
        serverLearningRate: spec.serverLearningRate,
      });
  }
}
