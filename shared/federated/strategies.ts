/**
 * The registry of aggregation strategies: adding one is a new file (a class implementing
 * Strategy, with its defaults) and one entry in STRATEGIES.
 */
import { FedAvg } from './fedavg.ts';
import { FEDAVGM_DEFAULTS, FedAvgM } from './fedavgm.ts';
import { FedMedian } from './fedmedian.ts';
import type { Strategy } from './strategy.ts';
import { UpdateNormScreen } from './update-norm-screen.ts';

/** A strategy's name and settings, as a run records them. */
export interface StrategySpec {
  name: StrategyName;
  /** C: fraction of the hospitals sampled per round. */
  fraction: number;
  /** fedavgm: beta (default FEDAVGM_DEFAULTS). */
  serverMomentum?: number;
  /** fedavgm: eta_s (default FEDAVGM_DEFAULTS). */
  serverLearningRate?: number;
}

interface StrategyEntry {
  description: string;
  /** The settings this strategy takes beyond `fraction`, with their defaults. */
  defaults: Readonly<Record<string, number>>;
  create(spec: StrategySpec): Strategy;
}

export const STRATEGIES = {
  fedavg: {
    description: 'FedAvg: the average of the models weighted by sample count',
    defaults: {},
    create: (spec) => new FedAvg({ fraction: spec.fraction }),
  },
  fedavgm: {
    description: 'FedAvgM: FedAvg with server momentum (Hsu et al. 2019)',
    defaults: FEDAVGM_DEFAULTS,
    create: (spec) =>
      new FedAvgM({
        fraction: spec.fraction,
        momentum: spec.serverMomentum ?? FEDAVGM_DEFAULTS.serverMomentum,
        serverLearningRate: spec.serverLearningRate ?? FEDAVGM_DEFAULTS.serverLearningRate,
      }),
  },
  fedmedian: {
    description: 'FedMedian: the coordinate-wise median of the models (Yin et al. 2018)',
    defaults: {},
    create: (spec) => new FedMedian({ fraction: spec.fraction }),
  },
} as const satisfies Record<string, StrategyEntry>;

export type StrategyName = keyof typeof STRATEGIES;
export const STRATEGY_NAMES = Object.keys(STRATEGIES) as StrategyName[];

/**
 * The strategy a spec names; with maxUpdateNormRatio (0 = measure only, reject nothing), wrapped
 * in the update-norm screen.
 */
export function createStrategy(
  spec: StrategySpec,
  options: { maxUpdateNormRatio?: number } = {},
): Strategy {
  const strategy = STRATEGIES[spec.name].create(spec);
  const ratio = options.maxUpdateNormRatio;
  return ratio === undefined ? strategy : new UpdateNormScreen(strategy, ratio);
}

/** A spec with the strategy's own defaults filled in, and settings it does not take refused. */
export function resolveStrategySpec(spec: StrategySpec): StrategySpec {
  const { defaults } = STRATEGIES[spec.name] as StrategyEntry;
  const resolved: StrategySpec = { name: spec.name, fraction: spec.fraction };
  for (const field of ['serverMomentum', 'serverLearningRate'] as const) {
    if (field in defaults) resolved[field] = spec[field] ?? defaults[field];
    else if (spec[field] !== undefined)
      throw new Error(
        `${field}: applies to ${strategiesTaking(field).join(', ')} only, not ${spec.name}`,
      );
  }
  return resolved;
}

function strategiesTaking(field: string): string[] {
  return STRATEGY_NAMES.filter((n) => field in (STRATEGIES[n] as StrategyEntry).defaults);
}
