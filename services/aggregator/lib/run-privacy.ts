/**
 * A differentially private run's budget: epsilon at the run's delta after r rounds, by the RDP
 * accountant with sampling rate q = clientFraction (shared/privacy/rdp-accountant.ts), and the
 * stop before a round that would exceed targetEpsilon. Everything is a function of the stored
 * settings and the number of completed rounds, so a restarted aggregator needs no state.
 */
import {
  epsilonAfterRounds,
  HOSPITAL_LEVEL_GUARANTEE,
  PRIVACY_ACCOUNTANT,
  PRIVACY_CONVERSION,
} from '../../../shared/privacy/dp-budget.ts';
import type { PrismaClient } from '../../../shared/db/index.ts';
import type { RunPrivacy, RunSettings } from '../schemas/runs.ts';

/** Epsilon after `rounds` rounds of the run (0 before any). */
export function epsilonAfter(settings: RunSettings, rounds: number): number {
  const dp = settings.differentialPrivacy;
  if (!dp) return 0;
  return epsilonAfterRounds(
    { sampleRate: settings.clientFraction, noiseMultiplier: dp.noiseMultiplier, delta: dp.delta },
    rounds,
  );
}

/** The privacy figures of a DP run after `rounds` completed rounds; null for a run without DP. */
export function privacyAfter(
  settings: RunSettings,
  rounds: number,
  /** The round's C under adaptive clipping (else the configured one). */
  clipNorm?: number,
): Omit<RunPrivacy, 'stopReason'> | null {
  const dp = settings.differentialPrivacy;
  if (!dp) return null;
  return {
    epsilon: epsilonAfter(settings, rounds),
    delta: dp.delta,
    noiseMultiplier: dp.noiseMultiplier,
    clipNorm: clipNorm ?? dp.clipNorm,
    targetEpsilon: dp.targetEpsilon,
    sampleRate: settings.clientFraction,
    rounds,
    accountant: PRIVACY_ACCOUNTANT,
    conversion: PRIVACY_CONVERSION,
    guarantee: HOSPITAL_LEVEL_GUARANTEE,
  };
}

/**
 * Why round `done + 1` must not start (its epsilon would exceed targetEpsilon), or null when it
 * may, or when the run has no DP.
 */
export function privacyStopReason(settings: RunSettings, done: number): string | null {
  const dp = settings.differentialPrivacy;
  if (!dp) return null;
  const next = epsilonAfter(settings, done + 1);
  if (next <= dp.targetEpsilon) return null;
  return (
    `privacy budget: round ${done + 1} would bring epsilon to ${next.toFixed(4)} > targetEpsilon ` +
    `${dp.targetEpsilon} (delta ${dp.delta}); epsilon after ${done} round(s) is ` +
    `${epsilonAfter(settings, done).toFixed(4)}`
  );
}

/** The run's privacy as GET /rounds/{id} shows it, with the stop reason once it stopped on its budget. */
export function runPrivacyView(
  settings: RunSettings,
  completedRounds: number,
  status: string,
): RunPrivacy | null {
  const figures = privacyAfter(settings, completedRounds);
  if (!figures) return null;
  const stopped = status === 'completed' && completedRounds < settings.rounds;
  return {
    ...figures,
    stopReason: stopped ? privacyStopReason(settings, completedRounds) : null,
  };
}

/** The `aggregation.dp` figures DpFedAvg leaves in a round's metrics, if any. */
function dpFigures(metrics: unknown): { clipNorm?: unknown; nextClipNorm?: unknown } | undefined {
  if (metrics === null || typeof metrics !== 'object') return undefined;
  const aggregation = (metrics as { aggregation?: unknown }).aggregation;
  if (aggregation === null || typeof aggregation !== 'object') return undefined;
  const dp = (aggregation as { dp?: unknown }).dp;
  return dp !== null && typeof dp === 'object' ? dp : undefined;
}

/** The clip norm a round used, from the strategy's figures (undefined when none). */
export function clipNormOfMetrics(metrics: unknown): number | undefined {
  const value = dpFigures(metrics)?.clipNorm;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/**
 * Round `index`'s C under adaptive clipping: the previous completed round's nextClipNorm, stored
 * with its metrics, so a restarted aggregator goes on with the same C. clipNorm for the first
 * round, without adaptive clipping, or when the previous round left none.
 */
export async function roundClipNorm(
  prisma: PrismaClient,
  runId: string,
  index: number,
  settings: RunSettings,
): Promise<number | undefined> {
  const dp = settings.differentialPrivacy;
  if (!dp) return undefined;
  if (!dp.adaptiveClipping || index === 0) return dp.clipNorm;
  const previous = await prisma.round.findUnique({
    where: { runId_index: { runId, index: index - 1 } },
    select: { metrics: true, status: true },
  });
  const next = dpFigures(previous?.metrics)?.nextClipNorm;
  return previous?.status === 'completed' && typeof next === 'number' && next > 0
    ? next
    : dp.clipNorm;
}
