/**
 * A round that failed (no hospital to select, too few updates to aggregate): recorded as
 * failed unless its run was cancelled meanwhile, and announced.
 */
import type { ModelVersion } from '../../../shared/db/index.ts';
import type { CoordinatorDeps, RoundOutcome, RunRef } from './round-runner.ts';
import { lockRunningRun } from './run-guard.ts';
import { moveRounds, OPEN_ROUND_STATUSES } from './states.ts';

export async function failRound(
  deps: Pick<CoordinatorDeps, 'prisma' | 'events'>,
  run: RunRef,
  index: number,
  input: ModelVersion,
  reason: string,
): Promise<RoundOutcome> {
  const fields = { failureReason: reason, finishedAt: new Date() };
  await deps.prisma.$transaction(async (tx) => {
    // A cancelled run's round stays cancelled.
    await lockRunningRun(tx, run.id);
    const where = { runId: run.id, index };
    if ((await moveRounds(tx, where, OPEN_ROUND_STATUSES, 'failed', fields)) > 0) return;
    const existing = await tx.round.findUnique({ where: { runId_index: where } });
    if (!existing) {
      // The round failed before it started (no hospital to select): its row begins failed.
      await tx.round.create({
        data: {
          ...where,
          inputModelId: input.id,
          startedAt: fields.finishedAt,
          status: 'failed',
          ...fields,
        },
      });
    } else if (existing.status === 'failed') {
      // Another attempt failed again: the reason is the latest one's (no change of state).
      await tx.round.update({ where: { id: existing.id }, data: fields });
    }
  });
  deps.events.publish(run.id, 'round-failed', { round: index + 1, reason });
  return { ok: false, reason: `round ${index + 1} failed: ${reason}` };
}
