/**
 * One hospital's update of a round moved to a new status, and the move announced to the
 * run's event stream.
 */
import type { ClientUpdateStatus, Hospital, Round } from '../../../shared/db/index.ts';
import type { CoordinatorDeps, RunRef } from './round-runner.ts';
import type { RunEvents } from './run-events.ts';
import { moveUpdates } from './states.ts';

/** Moves a hospital's update from one of `from` to `to`; a no-op when it has moved on. */
export type UpdateMove = (
  hospital: Hospital,
  from: readonly ClientUpdateStatus[],
  to: ClientUpdateStatus,
  data: { failureReason?: string },
) => Promise<void>;

/** The moves of the updates of one round of a run, each announced when it happens. */
export function updateMover(
  deps: Pick<CoordinatorDeps, 'prisma' | 'events'>,
  run: RunRef,
  round: Round,
): UpdateMove {
  return async (hospital, from, to, data) => {
    const count = await moveUpdates(
      deps.prisma,
      { roundId: round.id, hospitalId: hospital.id },
      from,
      to,
      data,
    );
    if (count > 0) {
      publishUpdate(deps.events, run.id, round.index + 1, hospital, to, data.failureReason ?? null);
    }
  };
}

export function publishUpdate(
  events: RunEvents,
  runId: string,
  round: number,
  hospital: Hospital,
  status: ClientUpdateStatus,
  failureReason: string | null,
): void {
  events.publish(runId, 'hospital-updated', {
    round,
    hospitalId: hospital.id,
    hospital: hospital.name,
    status,
    failureReason,
  });
}
