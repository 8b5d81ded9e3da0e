/**
 * `fedxray simulate`'s DP-FedAvg options (--dp-clip, --dp-noise, --dp-delta,
 * --dp-target-epsilon): the wrapper strategy, epsilon after each round, the stop on the
 * budget, and what the report records. The simulation's noise is seeded from --seed
 * (reproducible; nothing in a simulation needs it secret), the aggregator's comes from node:crypto.
 */
import { DpFedAvg, updateNoiseMultiplier, type AdaptiveClipping } from '../federated/dp-fedavg.ts';
import type { Strategy } from '../federated/strategy.ts';
import {
  epsilonAfterRounds,
  HOSPITAL_LEVEL_GUARANTEE,
  PRIVACY_ACCOUNTANT,
  PRIVACY_CONVERSION,
  type DpBudget,
} from '../privacy/dp-budget.ts';
import { seededGaussian } from '../privacy/gaussian.ts';
import { createRng, hashString } from '../util/random.ts';
import { numberOpt, UsageError, type ParsedArgs } from './options.ts';

export const DP_OPTIONS = {
  'dp-clip': { type: 'string' },
  'dp-noise': { type: 'string' },
  'dp-delta': { type: 'string' },
  'dp-target-epsilon': { type: 'string' },
  'dp-adaptive-quantile': { type: 'string' },
  'dp-adaptive-lr': { type: 'string' },
  'dp-count-noise': { type: 'string' },
} as const;

export const DP_HELP = `  --dp-clip C --dp-noise z [--dp-delta 1e-5] [--dp-target-epsilon E]: hospital-level
  differential privacy (DP-FedAvg): each hospital's update is clipped to L2 norm C, the clipped
  updates are averaged with equal weights and N(0, (z C / m)^2) noise is added per coordinate
  (seeded from --seed); epsilon at delta is printed after every round (RDP accountant, q =
  --fraction), and the run stops before a round that would take it past E. fedavg or fedavgm
  only; not with --checkpoint. The guarantee covers a whole hospital, not its patients
  (docs/privacy.md).
  --dp-adaptive-quantile G [--dp-adaptive-lr 0.2] [--dp-count-noise S (default z)]: adaptive
  clipping (Andrew et al. 2021): --dp-clip is the first round's C, then C <- C exp(-lr (b - G)),
  b the noised fraction of unclipped updates (count noise S > z / 2; the update noise grows to
  (z^-2 - (2S)^-2)^-1/2 so the total stays z).`;

export interface DpSimulation extends DpBudget {
  clipNorm: number;
  targetEpsilon?: number;
  adaptive?: AdaptiveClipping;
  /** The wrapper, once dpStrategy made it (its clip norm moves with adaptive clipping). */
  wrapper?: DpFedAvg;
}

/** The DP options given, checked; undefined when neither --dp-clip nor --dp-noise is. */
export function readDpOptions(
  args: ParsedArgs,
  context: { strategy: string; fraction: number; checkpoint: boolean },
): DpSimulation | undefined {
  const given = Object.keys(DP_OPTIONS).filter((k) => args.values[k] !== undefined);
  if (given.length === 0) return undefined;
  if (args.values['dp-clip'] === undefined || args.values['dp-noise'] === undefined)
    throw new UsageError(`${given.map((g) => `--${g}`).join(', ')} need --dp-clip and --dp-noise`);
  if (context.strategy !== 'fedavg' && context.strategy !== 'fedavgm')
    throw new UsageError(`--dp-clip takes --strategy fedavg or fedavgm, not ${context.strategy}`);
  if (context.checkpoint)
    throw new UsageError('--dp-clip cannot resume from --checkpoint (the noise is not saved)');
  const dp: DpSimulation = {
    clipNorm: numberOpt(args, 'dp-clip', 1, { min: 1e-12 }),
    noiseMultiplier: numberOpt(args, 'dp-noise', 1, { min: 0 }),
    delta: numberOpt(args, 'dp-delta', 1e-5, { min: 1e-300, max: 0.999999 }),
    sampleRate: context.fraction,
  };
  if (args.values['dp-target-epsilon'] !== undefined) {
    dp.targetEpsilon = numberOpt(args, 'dp-target-epsilon', 0, { min: 1e-12 });
    const first = epsilonAfterRounds(dp, 1);
    if (first > dp.targetEpsilon)
      throw new UsageError(
        `--dp-target-epsilon ${dp.targetEpsilon}: one round already costs epsilon ${first.toFixed(4)}`,
      );
  }
  if (args.values['dp-adaptive-quantile'] !== undefined) {
    dp.adaptive = {
      targetQuantile: numberOpt(args, 'dp-adaptive-quantile', 0.5, { min: 0, max: 1 }),
      learningRate: numberOpt(args, 'dp-adaptive-lr', 0.2, { min: 1e-6, max: 10 }),
      countNoise: numberOpt(args, 'dp-count-noise', Math.max(dp.noiseMultiplier, 1e-6), {
        min: 1e-9,
      }),
    };
    try {
      updateNoiseMultiplier(dp.noiseMultiplier, dp.adaptive);
    } catch (error) {
      throw new UsageError(`--dp-count-noise: ${(error as Error).message}`);
    }
  } else if (
    args.values['dp-adaptive-lr'] !== undefined ||
    args.values['dp-count-noise'] !== undefined
  )
    throw new UsageError('--dp-adaptive-lr and --dp-count-noise need --dp-adaptive-quantile');
  return dp;
}

export function dpStrategy(inner: Strategy, dp: DpSimulation, seed: number): Strategy {
  dp.wrapper = new DpFedAvg(inner, {
    clipNorm: dp.clipNorm,
    noiseMultiplier: dp.noiseMultiplier,
    noise: seededGaussian(createRng(hashString(`dp-noise:${seed}`))),
    ...(dp.adaptive && { adaptive: dp.adaptive }),
  });
  return dp.wrapper;
}

/** False (and `onStop` told why) when round `round` would exceed the target epsilon. */
export function dpBeforeRound(
  dp: DpSimulation,
  onStop: (reason: string) => void,
): (round: number) => boolean {
  return (round) => {
    if (dp.targetEpsilon === undefined) return true;
    const next = epsilonAfterRounds(dp, round);
    if (next <= dp.targetEpsilon) return true;
    onStop(
      `privacy budget: round ${round} would bring epsilon to ${next.toFixed(4)} > ${dp.targetEpsilon}; stopping after ${round - 1} round(s)`,
    );
    return false;
  };
}

/** ", epsilon 2.1660 at delta 1e-05" for the round line. */
export function dpRoundText(dp: DpSimulation, round: number): string {
  const clip =
    dp.adaptive && dp.wrapper ? `, next clip ${dp.wrapper.currentClipNorm.toPrecision(4)}` : '';
  return `, epsilon ${epsilonAfterRounds(dp, round).toFixed(4)} at delta ${dp.delta}${clip}`;
}

/** What model.json and the report record: the guarantee after the rounds run. */
export function dpReport(dp: DpSimulation, rounds: number, stopReason: string | null) {
  return {
    epsilon: epsilonAfterRounds(dp, rounds),
    delta: dp.delta,
    noiseMultiplier: dp.noiseMultiplier,
    clipNorm: dp.clipNorm,
    ...(dp.adaptive && {
      adaptiveClipping: { ...dp.adaptive, finalClipNorm: dp.wrapper?.currentClipNorm ?? null },
    }),
    targetEpsilon: dp.targetEpsilon ?? null,
    sampleRate: dp.sampleRate,
    rounds,
    accountant: PRIVACY_ACCOUNTANT,
    conversion: PRIVACY_CONVERSION,
    guarantee: HOSPITAL_LEVEL_GUARANTEE,
    noise: 'seeded from --seed (simulation)',
    stopReason,
  };
}
