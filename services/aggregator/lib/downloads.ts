import type { Hospital, ModelVersion, PrismaClient } from '../../../shared/db/index.ts';
import { HttpError } from '../../../shared/service/errors.ts';
import { audit } from './audit.ts';
import { parseRunSettings } from './run-settings.ts';

/**
 * The models of a run a hospital has downloaded. S_max counts distinct models: downloading
 * the same global model again (a retry, a restarted round) shows the hospital nothing new.
 */
export async function downloadedModels(
  prisma: PrismaClient,
  hospitalId: string,
  runId: string,
): Promise<Set<string>> {
  const rows = await prisma.weightDownload.findMany({
    where: { hospitalId, runId },
    select: { modelVersionId: true },
    distinct: ['modelVersionId'],
  });
  return new Set(rows.map((r) => r.modelVersionId));
}

/**
 * Records a hospital's download of a model (WeightDownload + AuditEvent). A model of a run in
 * progress counts against that run's S_max: a new model beyond it is refused (403
 * download-limit). Downloads of other models are recorded with no run.
 */
export async function recordHospitalDownload(
  prisma: PrismaClient,
  hospital: Hospital,
  model: ModelVersion,
): Promise<void> {
  const run = model.runId
    ? await prisma.trainingRun.findUnique({ where: { id: model.runId } })
    : null;
  const counted = run !== null && (run.status === 'pending' || run.status === 'running');
  const actor = `hospital:${hospital.id}` as const;
  const refusal = await prisma.$transaction(async (tx) => {
    let limit: number | undefined;
    if (counted) {
      limit = parseRunSettings(run.settings).maxDownloads;
      // Serialises the check and the record of one hospital's downloads.
      const lockKey = `fedxray:downloads:${hospital.id}`;
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${lockKey}, 0))`;
      const seen = await tx.weightDownload.findMany({
        where: { hospitalId: hospital.id, runId: run.id },
        select: { modelVersionId: true },
        distinct: ['modelVersionId'],
      });
      const ids = new Set(seen.map((r) => r.modelVersionId));
      if (!ids.has(model.id) && ids.size >= limit) return { count: ids.size, limit };
    }
    await tx.weightDownload.create({
      data: { hospitalId: hospital.id, modelVersionId: model.id, runId: counted ? run.id : null },
    });
    await audit(tx, {
      actor,
      action: 'model.downloaded',
      subjectType: 'model',
      subjectId: model.id,
      details: { runId: counted ? run.id : null, ...(limit ? { maxDownloads: limit } : {}) },
    });
    await tx.hospital.update({ where: { id: hospital.id }, data: { lastSeenAt: new Date() } });
    return null;
  });
  if (refusal) {
    await audit(prisma, {
      actor,
      action: 'model.download-refused',
      subjectType: 'model',
      subjectId: model.id,
      details: { runId: model.runId, reason: 'download-limit', ...refusal },
    });
    throw new HttpError(
      403,
      'download-limit',
      `hospital ${hospital.name} has downloaded ${refusal.count} models of run ${model.runId}: ` +
        `its limit S_max = ${refusal.limit} is reached`,
      { maxDownloads: refusal.limit },
    );
  }
}
