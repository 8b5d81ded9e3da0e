/**
 * The life of a Round and of a ClientUpdate: every state, the moves allowed between them, and
 * the one compare-and-set write every caller uses. A move the table does not allow is a
 * programming error (IllegalTransitionError, naming both states); a row that has already moved
 * on is not an error: the write changes nothing and says so (count 0), since the round loop,
 * the upload intake and a cancellation race for the same rows by design.
 *
 * A new attempt of a round (after a restart) resets its row and its updates to `dispatched`
 * by upsert in round-runner.ts: that starts a life, it is not a move within one.
 */
import type {
  ClientUpdateStatus,
  Prisma,
  PrismaClient,
  RoundStatus,
} from '../../../shared/db/index.ts';

export const UPDATE_TRANSITIONS: Readonly<
  Record<ClientUpdateStatus, readonly ClientUpdateStatus[]>
> = {
  // Sent to the node: it starts training, uploads, fails, or the deadline passes.
  dispatched: ['training', 'received', 'rejected', 'failed', 'timed_out'],
  training: ['received', 'rejected', 'failed', 'timed_out'],
  // Stored, being checked: accepted or refused; voided by a cancellation or a restart.
  received: ['accepted', 'rejected', 'failed', 'timed_out'],
  // Averaged unless the strategy leaves it out; voided by a restart before aggregation.
  accepted: ['rejected', 'failed'],
  // The dispatch may have failed on our side only: the node's upload is still taken.
  failed: ['received', 'rejected'],
  rejected: [],
  timed_out: [],
};

export const ROUND_TRANSITIONS: Readonly<Record<RoundStatus, readonly RoundStatus[]>> = {
  pending: ['dispatched', 'failed', 'cancelled'],
  dispatched: ['aggregating', 'failed', 'cancelled'],
  aggregating: ['completed', 'failed', 'cancelled'],
  completed: [],
  failed: [],
  cancelled: [],
};

/** Updates still expected to change; the rest are final for the round. */
export const OPEN_UPDATE_STATUSES: readonly ClientUpdateStatus[] = [
  'dispatched',
  'training',
  'received',
];
/** Rounds not finished yet. */
export const OPEN_ROUND_STATUSES: readonly RoundStatus[] = ['pending', 'dispatched', 'aggregating'];

export class IllegalTransitionError extends Error {
  constructor(kind: 'round' | 'update', from: string, to: string) {
    super(`a ${kind} cannot move from ${from} to ${to}`);
    this.name = 'IllegalTransitionError';
  }
}

function check<S extends string>(
  kind: 'round' | 'update',
  table: Readonly<Record<S, readonly S[]>>,
  from: readonly S[],
  to: S,
): void {
  for (const state of from)
    if (!table[state].includes(to)) throw new IllegalTransitionError(kind, state, to);
}

type Db = PrismaClient | Prisma.TransactionClient;

/**
 * Moves the ClientUpdates matching `where` that are in one of `from` to `to`, with `data`;
 * returns how many moved (0: none was in `from` any more).
 */
export async function moveUpdates(
  db: Db,
  where: Prisma.ClientUpdateWhereInput,
  from: readonly ClientUpdateStatus[],
  to: ClientUpdateStatus,
  data: Omit<Prisma.ClientUpdateUncheckedUpdateManyInput, 'status'> = {},
): Promise<number> {
  check('update', UPDATE_TRANSITIONS, from, to);
  const { count } = await db.clientUpdate.updateMany({
    where: { ...where, status: { in: [...from] } },
    data: { ...data, status: to },
  });
  return count;
}

/** The same for Rounds. */
export async function moveRounds(
  db: Db,
  where: Prisma.RoundWhereInput,
  from: readonly RoundStatus[],
  to: RoundStatus,
  data: Omit<Prisma.RoundUncheckedUpdateManyInput, 'status'> = {},
): Promise<number> {
  check('round', ROUND_TRANSITIONS, from, to);
  const { count } = await db.round.updateMany({
    where: { ...where, status: { in: [...from] } },
    data: { ...data, status: to },
  });
  return count;
}
