import { Value } from '@sinclair/typebox/value';
import { pooledClassWeights } from '../../../shared/data/class-balance.ts';
import type { Prisma, PrismaClient, TrainingRun } from '../../../shared/db/index.ts';
import {
  FederationClassWeightsSchema,
  type FederationClassWeights,
  type RunClassWeights,
  type RunSettings,
} from '../schemas/runs.ts';
import { audit } from './audit.ts';
import type { HospitalClient } from './hospital-client.ts';
import { lockRunningRun } from './run-guard.ts';

/** Where a federation run keeps its class weights inside TrainingRun.settings. */
export const FEDERATION_WEIGHTS_KEY = 'federationClassWeights';

/** The federation's weights from each hospital's [NORMAL, PNEUMONIA] training-split counts. */
export function federationClassWeights(
  basis: Record<string, [number, number]>,
  readAt: Date,
): FederationClassWeights {
  const { weights, counts } = pooledClassWeights(Object.values(basis));
  return { weights, counts, basis, readAt: readAt.toISOString() };
}

/** The weights stored with a run (TrainingRun.settings), or null when it has none. */
export function storedFederationWeights(stored: unknown): FederationClassWeights | null {
  if (stored === null || typeof stored !== 'object') return null;
  const value = (stored as Record<string, unknown>)[FEDERATION_WEIGHTS_KEY];
  return Value.Check(FederationClassWeightsSchema, value) ? value : null;
}

/** GET /rounds/{id}'s and each round's `classWeights`. */
export function classWeightsView(
  settings: RunSettings,
  stored: FederationClassWeights | null,
): RunClassWeights {
  if (settings.classWeights === 'federation' && stored) return { mode: 'federation', ...stored };
  return { mode: settings.classWeights, weights: null, counts: null, basis: null, readAt: null };
}

export type ClassWeightsOutcome =
  { ok: true; view: RunClassWeights } | { ok: false; reason: string };

/**
 * A run's class weights for its rounds. Under federation: the stored ones, else (the run's
 * start) every active hospital's counts read with GET /info and the weights of their sums,
 * stored with the run and audited before any round. A hospital whose counts cannot be read, or
 * no training image at all, is a failure: the run must not go on with another objective.
 */
export async function resolveClassWeights(
  deps: { prisma: PrismaClient; client: HospitalClient },
  run: TrainingRun,
  settings: RunSettings,
  signal: AbortSignal,
): Promise<ClassWeightsOutcome> {
  const stored = storedFederationWeights(run.settings);
  if (settings.classWeights === 'local' || stored) {
    return { ok: true, view: classWeightsView(settings, stored) };
  }
  if (FEDERATION_WEIGHTS_KEY in (run.settings as object)) {
    // Reading the counts again could give other weights than the rounds so far were sent.
    return {
      ok: false,
      reason: 'federation class weights: the weights stored with the run are unreadable',
    };
  }
  const hospitals = await deps.prisma.hospital.findMany({
    where: { status: 'active' },
    orderBy: { name: 'asc' },
  });
  const failures: string[] = [];
  const basis: Record<string, [number, number]> = {};
  await Promise.all(
    hospitals.map(async (hospital) => {
      try {
        const { train } = (await deps.client.info(hospital, signal)).splits;
        basis[hospital.id] = [train.NORMAL, train.PNEUMONIA];
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        failures.push(`${hospital.name}: ${(error as Error).message}`);
      }
    }),
  );
  const prefix = 'federation class weights';
  if (failures.length > 0) {
    return {
      ok: false,
      reason:
        `${prefix}: the class counts of ${failures.length} of ${hospitals.length} active ` +
        `hospital(s) could not be read (GET /info), and every one is needed: ` +
        `${failures.sort().join('; ')}. Disable a hospital that is out, then start a new run`,
    };
  }
  const record = federationClassWeights(basis, new Date());
  if (record.counts[0] + record.counts[1] === 0) {
    return {
      ok: false,
      reason: `${prefix}: the training splits of the ${hospitals.length} active hospital(s) hold no image`,
    };
  }
  const json = JSON.parse(JSON.stringify(record)) as Prisma.InputJsonObject;
  await deps.prisma.$transaction(async (tx) => {
    // A run cancelled meanwhile stores nothing (RunCancelledError ends its loop).
    await lockRunningRun(tx, run.id, {
      settings: { ...(run.settings as Prisma.JsonObject), [FEDERATION_WEIGHTS_KEY]: json },
    });
    await audit(tx, {
      actor: 'system',
      action: 'run.class-weights',
      subjectType: 'run',
      subjectId: run.id,
      details: json,
    });
  });
  return { ok: true, view: classWeightsView(settings, record) };
}
