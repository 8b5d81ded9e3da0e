/**
 * The last step of a round: the new ModelVersion and the completed Round in one transaction,
 * audited. A round cancelled while it was aggregated makes no version (the transaction rolls
 * back with RunCancelledError).
 */
import type { ModelVersion, PrismaClient } from '../../../shared/db/index.ts';
import type { RunSettings } from '../schemas/runs.ts';
import { audit } from './audit.ts';
import { findOrCreateModelVersion } from './model-versions.ts';
import type { RoundReport } from './round-report.ts';
import { RunCancelledError } from './run-guard.ts';
import { moveRounds } from './states.ts';

export async function commitRound(
  prisma: PrismaClient,
  target: { runId: string; roundId: string; round: number },
  stored: { sha256: string; storagePath: string; sizeBytes: number },
  settings: RunSettings,
  report: RoundReport,
): Promise<ModelVersion> {
  const { runId, roundId, round } = target;
  return prisma.$transaction(async (tx) => {
    const version = await findOrCreateModelVersion(tx, {
      runId,
      roundIndex: round,
      ...stored,
      settings,
      threshold: report.threshold,
      calibration: report.calibration ?? undefined,
      metrics: report.modelMetrics,
    });
    const completed = await moveRounds(tx, { id: roundId }, ['aggregating'], 'completed', {
      finishedAt: new Date(),
      outputModelId: version.id,
      metrics: report.roundMetrics,
    });
    if (completed === 0) throw new RunCancelledError(runId);
    await audit(tx, {
      actor: 'system',
      action: 'round.completed',
      subjectType: 'round',
      subjectId: roundId,
      details: { runId, round, modelId: version.id, version: version.version },
    });
    return version;
  });
}
