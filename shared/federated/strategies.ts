/**
 * The registry of aggregation strategies: adding one is a new file (a class implementing
 * Strategy, with its defaults) and one entry in STRATEGIES.
 */
import { FedAvg } from './fedavg.ts';
import { FEDAVGM_DEFAULTS, FedAvgM } from './fedavgm.ts';
import { FedMedian } from './fedmedian.ts';
import { KRUM_DEFAULTS, Krum } from './krum.ts';
import type { Strategy } from './strategy.ts';
import { TRIMMED_MEAN_DEFAULTS, TrimmedMean } from './trimmed-mean.ts';
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
  /** trimmed-mean: beta, the fraction trimmed from each end per coordinate (default 0.2). */
  trimBeta?: number;
  /** krum: f, the Byzantine hospitals a round is assumed to hold (default 1). */
  byzantine?: number;
  /** krum: m, the best-scored updates averaged (default 1: Krum; more: Multi-Krum). */
  krumSelect?: number;
}

/** The settings a strategy may take beyond `fraction`, in the order a spec lists them. */
const SETTING_FIELDS = [
  'serverMomentum',
  'serverLearningRate',
  'trimBeta',
  'byzantine',
  'krumSelect',
] as const;

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
  median: {
    description: 'the coordinate-wise median of the models, unweighted (Yin et al. 2018)',
    defaults: {},
    create: (spec) => new FedMedian({ fraction: spec.fraction, name: 'median' }),
  },
  fedmedian: {
    description: 'the same coordinate-wise median as median, under the name stored runs carry',
    defaults: {},
    create: (spec) => new FedMedian({ fraction: spec.fraction, name: 'fedmedian' }),
  },
  'trimmed-mean': {
    description:
      'the coordinate-wise trimmed mean: the trimBeta fraction of largest and of smallest values dropped per coordinate, the rest averaged unweighted (Yin et al. 2018)',
    defaults: TRIMMED_MEAN_DEFAULTS,
    create: (spec) =>
      new TrimmedMean({
        fraction: spec.fraction,
        beta: spec.trimBeta ?? TRIMMED_MEAN_DEFAULTS.trimBeta,
      }),
  },
  krum: {
    description:
      'Multi-Krum: the krumSelect updates with the least summed squared distance to their n - f - 2 nearest others, averaged unweighted, f = byzantine; needs n >= 2f + 3 (Blanchard et al. 2017)',
    defaults: KRUM_DEFAULTS,
    create: (spec) =>
      new Krum({
        fraction: spec.fraction,
        byzantine: spec.byzantine ?? KRUM_DEFAULTS.byzantine,
        select: spec.krumSelect ?? KRUM_DEFAULTS.krumSelect,
      }),
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
  for (const field of SETTING_FIELDS) {
    if (field in defaults) resolved[field] = spec[field] ?? defaults[field];
    else if (spec[field] !== undefined)
      throw new Error(
        `${field}: applies to ${strategiesTaking(field).join(', ')} only, not ${spec.name}`,
      );
  }
  STRATEGIES[spec.name].create(resolved); // throws on a value out of range, naming it
  return resolved;
}

function strategiesTaking(field: string): string[] {
  return STRATEGY_NAMES.filter((n) => field in (STRATEGIES[n] as StrategyEntry).defaults);
}
