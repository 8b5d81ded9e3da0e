/**
 * `fedxray simulate`'s options for robust aggregation (the settings of trimmed-mean and krum)
 * and for Byzantine hospitals (shared/federated/byzantine.ts), kept out of the command itself.
 */
import {
  ATTACK_DEFAULTS,
  ByzantineTrainer,
  describeAttack,
  parseByzantinePlan,
  type ByzantinePlan,
} from '../federated/byzantine.ts';
import type { ClientTrainer } from '../federated/client-trainer.ts';
import { clientId } from '../federated/simulation.ts';
import type { StrategySpec } from '../federated/strategies.ts';
import { clientsPerRound } from '../federated/strategy-utils.ts';
import { numberOpt, UsageError, type ParsedArgs } from './options.ts';

export const ROBUST_OPTIONS = {
  'trim-beta': { type: 'string' },
  'krum-f': { type: 'string' },
  'krum-select': { type: 'string' },
  byzantine: { type: 'string' },
} as const;

export const ROBUST_HELP = `  --trim-beta B (trimmed-mean; default 0.2, in [0, 0.5)): per coordinate, the floor(B x n)
  largest and smallest of the n hospitals' values are dropped and the rest averaged.
  --krum-f F (krum; default 1): hospitals assumed Byzantine; a round needs n >= 2F + 3.
  --krum-select M (krum; default 1 = Krum, more = Multi-Krum): the M updates with the least
  summed squared distance to their n - F - 2 nearest others are averaged, unweighted.
  --byzantine HOSPITAL:ATTACK[,HOSPITAL:ATTACK...] turns simulated hospitals into attackers,
  e.g. --byzantine hospital-1:label-flip,hospital-2:scale=-10. Attacks: label-flip (trains on
  its images with the labels flipped), scale[=S] (sends w + S (w_local - w), default S
  ${ATTACK_DEFAULTS.scale}), noise[=SIGMA] (sends w + SIGMA z, z ~ N(0, 1) per weight, default SIGMA
  ${ATTACK_DEFAULTS.noise}). The report lists them (training.byzantine); docs/privacy.md.`;

/** The robust strategies' settings given on the command line (the others' are refused later). */
export function readRobustSettings(
  args: ParsedArgs,
): Pick<StrategySpec, 'trimBeta' | 'byzantine' | 'krumSelect'> {
  const given = (name: string): boolean => args.values[name] !== undefined;
  return {
    ...(given('trim-beta') && {
      trimBeta: numberOpt(args, 'trim-beta', 0, { min: 0, max: 0.4999 }),
    }),
    ...(given('krum-f') && { byzantine: numberOpt(args, 'krum-f', 1, { integer: true, min: 0 }) }),
    ...(given('krum-select') && {
      krumSelect: numberOpt(args, 'krum-select', 1, { integer: true, min: 1 }),
    }),
  };
}

/** Refuses a krum run whose rounds would hold fewer than 2f + 3 hospitals, before any training. */
export function checkKrumRounds(strategy: StrategySpec, clients: number): void {
  if (strategy.name !== 'krum') return;
  const f = strategy.byzantine ?? 1;
  const perRound = clientsPerRound(strategy.fraction, clients);
  if (perRound < 2 * f + 3)
    throw new UsageError(
      `--strategy krum with --krum-f ${f} needs 2f + 3 = ${2 * f + 3} hospitals per round, got ${perRound} (--clients ${clients}, --fraction ${strategy.fraction})`,
    );
}

/** The --byzantine plan over hospital-1 .. hospital-J; undefined without the option. */
export function readByzantinePlan(args: ParsedArgs, clients: number): ByzantinePlan | undefined {
  const text = args.values.byzantine;
  if (text === undefined) return undefined;
  if (typeof text !== 'string' || text.trim() === '')
    throw new UsageError('--byzantine needs HOSPITAL:ATTACK[,...], e.g. hospital-1:scale');
  try {
    return parseByzantinePlan(
      text,
      Array.from({ length: clients }, (_, i) => clientId(i)),
    );
  } catch (error) {
    throw new UsageError(`--byzantine: ${(error as Error).message}`);
  }
}

/** `trainer` with the plan's hospitals attacking; `trainer` itself without a plan. */
export function withByzantine(
  trainer: ClientTrainer,
  plan: ByzantinePlan | undefined,
): ClientTrainer {
  return plan ? new ByzantineTrainer(trainer, plan) : trainer;
}

/** The plan as the report and the log show it. */
export function describePlan(plan: ByzantinePlan): { clientId: string; attack: string }[] {
  return [...plan].map(([id, attack]) => ({ clientId: id, attack: describeAttack(attack) }));
}
