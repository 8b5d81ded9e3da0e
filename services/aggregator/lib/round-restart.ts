/**
 * A round cut short by a restart of the aggregator, made ready to run again: its open updates
 * are void (failed, announced), and the restart is audited with the attempt it starts.
 */
import type { Round } from '../../../shared/db/index.ts';
import { audit } from './audit.ts';
import type { CoordinatorDeps, RunRef } from './round-runner.ts';
import { OPEN_UPDATE_STATUSES, moveUpdates } from './states.ts';
import { publishUpdate } from './update-transition.ts';

/** Voids the round's open updates; returns the number of the attempt that runs it again. */
export async function restartRound(
  deps: Pick<CoordinatorDeps, 'prisma' | 'events' | 'log'>,
  run: RunRef,
  round: Round,
): Promise<number> {
  const { prisma } = deps;
  const voided = await prisma.clientUpdate.findMany({
    where: { roundId: round.id, status: { in: [...OPEN_UPDATE_STATUSES, 'accepted'] } },
    include: { hospital: true },
  });
  await moveUpdates(
    prisma,
    { id: { in: voided.map((u) => u.id) } },
    [...OPEN_UPDATE_STATUSES, 'accepted'],
    'failed',
    { failureReason: 'aggregator restarted' },
  );
  const earlier = await prisma.auditEvent.count({
    where: { action: 'round.restarted', subjectType: 'round', subjectId: round.id },
  });
  const attempt = earlier + 2;
  await audit(prisma, {
    actor: 'system',
    action: 'round.restarted',
    subjectType: 'round',
    subjectId: round.id,
    details: {
      runId: run.id,
      round: round.index + 1,
      attempt,
      previousStatus: round.status,
      voided: voided.map((u) => ({ hospitalId: u.hospitalId, status: u.status })),
    },
  });
  for (const update of voided) {
    publishUpdate(
      deps.events,
      run.id,
      round.index + 1,
      update.hospital,
      'failed',
      'aggregator restarted',
    );
  }
  deps.log.info({ runId: run.id, round: round.index + 1, attempt }, 'round restarted');
  return attempt;
}
