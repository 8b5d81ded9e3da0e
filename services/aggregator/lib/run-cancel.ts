import type { Hospital, PrismaClient, TrainingRunStatus } from '../../../shared/db/index.ts';
import { audit, type Actor } from './audit.ts';
import { cancelNodeJobs } from './node-jobs.ts';
import type { CoordinatorDeps } from './round-runner.ts';
import { moveRounds, moveUpdates, OPEN_ROUND_STATUSES, OPEN_UPDATE_STATUSES } from './states.ts';

/** The failure reason given to a cancelled run's open updates. */
export const CANCELLED_UPDATE_REASON = 'the run was cancelled';

export interface CancelRequest {
  actor: Actor;
  reason: string | null;
}

/** An update that was open when its run was cancelled: its node may still be training. */
export interface VoidedUpdate {
  id: string;
  round: number;
  hospital: Hospital;
}

export type CancelRecord =
  | { kind: 'not-found' }
  | { kind: 'finished'; status: TrainingRunStatus }
  | { kind: 'cancelled'; cancelledAt: Date; rounds: number[]; voided: VoidedUpdate[] };

/**
 * Cancels a run in the database, in one transaction: the run becomes `cancelled` (with who,
 * why and when), its round in progress `cancelled`, that round's open updates `failed`, and a
 * `run.cancelled` audit event is written. A run already completed, failed or cancelled is left
 * as it is. Stopping the loop and the nodes is the caller's part.
 */
export async function recordCancellation(
  prisma: PrismaClient,
  runId: string,
  request: CancelRequest,
): Promise<CancelRecord> {
  return prisma.$transaction(async (tx): Promise<CancelRecord> => {
    const cancelledAt = new Date();
    const { count } = await tx.trainingRun.updateMany({
      where: { id: runId, status: { in: ['pending', 'running'] } },
      data: {
        status: 'cancelled',
        finishedAt: cancelledAt,
        cancelledAt,
        cancelledBy: request.actor,
        cancelReason: request.reason,
      },
    });
    if (count === 0) {
      const run = await tx.trainingRun.findUnique({ where: { id: runId } });
      return run ? { kind: 'finished', status: run.status } : { kind: 'not-found' };
    }
    const rounds = await tx.round.findMany({
      where: { runId, status: { in: [...OPEN_ROUND_STATUSES] } },
      orderBy: { index: 'asc' },
    });
    const roundReason = `cancelled${request.reason ? `: ${request.reason}` : ''}`;
    await moveRounds(
      tx,
      { id: { in: rounds.map((r) => r.id) } },
      OPEN_ROUND_STATUSES,
      'cancelled',
      {
        finishedAt: cancelledAt,
        failureReason: roundReason,
      },
    );
    const open = await tx.clientUpdate.findMany({
      where: {
        roundId: { in: rounds.map((r) => r.id) },
        status: { in: [...OPEN_UPDATE_STATUSES] },
      },
      include: { hospital: true, round: { select: { index: true } } },
      orderBy: { hospital: { name: 'asc' } },
    });
    await moveUpdates(tx, { id: { in: open.map((u) => u.id) } }, OPEN_UPDATE_STATUSES, 'failed', {
      failureReason: CANCELLED_UPDATE_REASON,
    });
    await audit(tx, {
      actor: request.actor,
      action: 'run.cancelled',
      subjectType: 'run',
      subjectId: runId,
      details: {
        reason: request.reason,
        rounds: rounds.map((r) => r.index + 1),
        voided: open.map((u) => ({ hospitalId: u.hospitalId, status: u.status, jobId: u.jobId })),
      },
    });
    return {
      kind: 'cancelled',
      cancelledAt,
      rounds: rounds.map((r) => r.index + 1),
      voided: open.map((u) => ({ id: u.id, round: u.round.index + 1, hospital: u.hospital })),
    };
  });
}

/**
 * After the loop has stopped: the voided updates and the run's end as events (`run-cancelled`
 * ends the run's event streams), and the nodes still training asked to stop (best effort).
 */
export async function announceCancellation(
  deps: Pick<CoordinatorDeps, 'prisma' | 'client' | 'events' | 'log'>,
  runId: string,
  request: CancelRequest,
  record: Extract<CancelRecord, { kind: 'cancelled' }>,
): Promise<void> {
  for (const update of record.voided) {
    deps.events.publish(runId, 'hospital-updated', {
      round: update.round,
      hospitalId: update.hospital.id,
      hospital: update.hospital.name,
      status: 'failed',
      failureReason: CANCELLED_UPDATE_REASON,
    });
  }
  const nodes = await cancelNodeJobs(deps, record.voided);
  deps.log.info(
    { runId, reason: request.reason, rounds: record.rounds, nodes },
    'training run cancelled',
  );
  deps.events.publish(runId, 'run-cancelled', {
    reason: request.reason,
    cancelledBy: request.actor,
    cancelledAt: record.cancelledAt.toISOString(),
    rounds: record.rounds,
    nodes,
  });
}
