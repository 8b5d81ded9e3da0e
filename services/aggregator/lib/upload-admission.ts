import type { Hospital } from '../../../shared/db/index.ts';
import { HttpError } from '../../../shared/service/errors.ts';
import { RECEIVED, refuseUnlessOpen, type IntakeDeps } from './update-intake.ts';

/**
 * Whether `hospital` may send an update of run `runId` now, checked before any of the upload is
 * read: only the run id (URL) and the hospital (token) are known, the round and job are in the
 * body. The hospital's update in the latest round of the run that selected it decides:
 *
 * - open round and an update still expected (dispatched, training, failed): admitted;
 * - received, accepted or rejected: admitted, so that a retry gets its recorded answer (200);
 * - round past its deadline or over: 409 `round-closed`, recorded on that update as after the
 *   body (lib/update-intake.ts);
 * - otherwise (timed out in a round still open): 409 `update-closed`.
 *
 * A run that does not exist is 404 `run-not-found`; a hospital in no round of it, 403
 * `not-selected`. Everything is checked again, by round and job, once the body is read.
 */
export async function admitUpload(
  deps: IntakeDeps,
  hospital: Hospital,
  runId: string,
): Promise<void> {
  const { prisma } = deps;
  const run = await prisma.trainingRun.findUnique({ where: { id: runId }, select: { id: true } });
  if (!run) throw new HttpError(404, 'run-not-found', `no training run ${runId}`);
  const updates = await prisma.clientUpdate.findMany({
    where: { hospitalId: hospital.id, round: { runId } },
    include: {
      round: {
        select: {
          id: true,
          index: true,
          status: true,
          deadlineAt: true,
          selectedHospitalIds: true,
        },
      },
    },
    orderBy: { round: { index: 'desc' } },
  });
  // A round run again after a restart may have selected others: its old rows stay.
  const update = updates.find((u) => u.round.selectedHospitalIds.includes(hospital.id));
  if (!update) {
    throw new HttpError(
      403,
      'not-selected',
      `hospital ${hospital.name} is not selected in any round of run ${runId}`,
    );
  }
  if (RECEIVED.includes(update.status)) return;
  const context = {
    deps,
    hospital,
    runId,
    round: update.round.index + 1,
    roundId: update.round.id,
  };
  await refuseUnlessOpen(context, update, update.round);
}
