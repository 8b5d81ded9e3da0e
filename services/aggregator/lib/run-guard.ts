import type { Prisma } from '../../../shared/db/index.ts';

type Tx = Prisma.TransactionClient;

/** The abort reason of a cancelled run's loop, and what a write of a cancelled run throws. */
export class RunCancelledError extends Error {
  override name = 'RunCancelledError';

  constructor(readonly runId: string) {
    super(`training run ${runId} was cancelled`);
  }
}

/**
 * Locks a run's row for the rest of the transaction, if the run is still running: writes of
 * the round loop that must not land after a cancellation start with it (the cancellation
 * locks the same row first), so one of the two waits for the other. Throws RunCancelledError
 * when the run is no longer running.
 */
export async function lockRunningRun(
  tx: Tx,
  runId: string,
  data: Prisma.TrainingRunUpdateManyMutationInput = { status: 'running' },
): Promise<void> {
  const { count } = await tx.trainingRun.updateMany({
    where: { id: runId, status: 'running' },
    data,
  });
  if (count === 0) throw new RunCancelledError(runId);
}
