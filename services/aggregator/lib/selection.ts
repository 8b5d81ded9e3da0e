import type { Hospital, PrismaClient } from '../../../shared/db/index.ts';
import { createRng, hashString } from '../../../shared/util/random.ts';
import type { RunSettings } from '../schemas/runs.ts';
import { downloadedModels } from './downloads.ts';
import type { HospitalClient } from './hospital-client.ts';
import { runStrategy } from './run-strategy.ts';

export type Selection =
  | { ok: true; selected: Hospital[]; available: number; excluded: string[] }
  | { ok: false; reason: string };

/**
 * Picks a round's hospitals: the active ones that answer GET /health and are under S_max
 * (distinct models of this run downloaded < maxDownloads, unless the round's input model is
 * one of them), then FedAvg's m = max(round(C x J), 1) of them at random (seeded per run,
 * round and attempt). With `eligible` (a federation run's class-weight basis), only those
 * hospitals: one whose counts the weights do not include would change the run's objective.
 */
export async function selectHospitals(
  deps: { prisma: PrismaClient; client: HospitalClient },
  run: { id: string },
  settings: RunSettings,
  round: number,
  attempt: number,
  inputModelId: string,
  signal: AbortSignal,
  eligible?: ReadonlySet<string>,
): Promise<Selection> {
  const hospitals = await deps.prisma.hospital.findMany({
    where: { status: 'active' },
    orderBy: { name: 'asc' },
  });
  const excluded: string[] = [];
  const checks = await Promise.all(
    hospitals.map(async (hospital) => {
      if (eligible && !eligible.has(hospital.id)) {
        return `${hospital.name} is not in the run's class-weight basis (active only since the run started)`;
      }
      const unhealthy = await deps.client.checkHealth(hospital, signal);
      if (unhealthy !== null) return `${hospital.name} is unavailable (${unhealthy})`;
      await deps.prisma.hospital.update({
        where: { id: hospital.id },
        data: { lastSeenAt: new Date() },
      });
      const seen = await downloadedModels(deps.prisma, hospital.id, run.id);
      if (!seen.has(inputModelId) && seen.size >= settings.maxDownloads) {
        return `${hospital.name} reached its download limit S_max = ${settings.maxDownloads}`;
      }
      return null;
    }),
  );
  const available = hospitals.filter((hospital, i) => {
    if (checks[i] !== null) excluded.push(checks[i]);
    return checks[i] === null;
  });
  const why = excluded.length > 0 ? `: ${excluded.join('; ')}` : '';
  if (available.length < settings.minHospitals) {
    return {
      ok: false,
      reason:
        `${available.length} of ${hospitals.length} registered hospital(s) available, ` +
        `fewer than minHospitals = ${settings.minHospitals}${why}`,
    };
  }
  const rng = createRng(hashString(`${settings.seed}:select:${round}:${attempt}`));
  const chosen = runStrategy(settings).configureFit(
    round,
    available.map((h) => ({ id: h.id, numSamples: h.sampleCount ?? 0 })),
    rng,
  );
  if (chosen.length < settings.minHospitals) {
    return {
      ok: false,
      reason:
        `clientFraction = ${settings.clientFraction} selects ${chosen.length} of the ` +
        `${available.length} available hospitals, fewer than minHospitals = ${settings.minHospitals}`,
    };
  }
  const ids = new Set(chosen.map((c) => c.clientId));
  return {
    ok: true,
    selected: available.filter((h) => ids.has(h.id)),
    available: available.length,
    excluded,
  };
}
