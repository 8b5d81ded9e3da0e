/**
 * A round's wait for its updates: until every selected hospital's update is final or the
 * deadline moves the rest to `timed_out`, asking the nodes meanwhile how their jobs go.
 */
import type { ClientUpdateStatus, Hospital, Round } from '../../../shared/db/index.ts';
import type { NodeJob } from '../schemas/hospital-node.ts';
import { HospitalCallError } from './hospital-client.ts';
import type { CoordinatorDeps, RunRef } from './round-runner.ts';
import { OPEN_UPDATE_STATUSES } from './states.ts';
import { updateMover, type UpdateMove } from './update-transition.ts';

/** One per run: the failed job-status checks it counts outlive a round's attempt. */
export class UpdateWait {
  /** Failed job-status checks in a row, by round and hospital. */
  private readonly missedPolls = new Map<string, number>();

  /** @param signal the run's loop: aborted by a cancellation or the aggregator shutting down. */
  constructor(
    private readonly deps: Pick<
      CoordinatorDeps,
      'prisma' | 'events' | 'client' | 'signals' | 'jobPollMs' | 'maxMissedPolls'
    >,
    private readonly signal: AbortSignal,
  ) {}

  async waitForUpdates(
    run: RunRef,
    round: Round,
    selected: readonly Hospital[],
    deadline: number,
  ): Promise<void> {
    const { prisma, signals, jobPollMs } = this.deps;
    const byId = new Map(selected.map((h) => [h.id, h]));
    const move = updateMover(this.deps, run, round);
    let lastPoll = Date.now();
    for (;;) {
      this.signal.throwIfAborted();
      const open = await prisma.clientUpdate.findMany({
        where: { roundId: round.id, status: { in: [...OPEN_UPDATE_STATUSES] } },
      });
      if (open.length === 0) return;
      const now = Date.now();
      if (now >= deadline) {
        for (const update of open) {
          const hospital = byId.get(update.hospitalId);
          if (!hospital) continue;
          await move(hospital, OPEN_UPDATE_STATUSES, 'timed_out', {
            failureReason: `no update before the deadline (${new Date(deadline).toISOString()})`,
          });
        }
        return;
      }
      if (now - lastPoll >= jobPollMs) {
        lastPoll = now;
        await this.pollJobs(round, open, byId, move);
      }
      await signals.wait(round.id, Math.min(jobPollMs, deadline - now), this.signal);
    }
  }

  /** Asks the nodes how their jobs go: a failed job ends the hospital's part of the round. */
  private async pollJobs(
    round: Round,
    open: readonly { hospitalId: string; jobId: string | null; status: ClientUpdateStatus }[],
    byId: ReadonlyMap<string, Hospital>,
    move: UpdateMove,
  ): Promise<void> {
    await Promise.all(
      open.map(async (update) => {
        const hospital = byId.get(update.hospitalId);
        if (!hospital || update.jobId === null || update.status === 'received') return;
        let job: NodeJob;
        try {
          job = await this.deps.client.job(hospital, update.jobId, this.signal);
        } catch (error) {
          if (this.signal.aborted) throw this.signal.reason;
          if (error instanceof HospitalCallError && error.status === 404) {
            await move(hospital, ['dispatched', 'training'], 'failed', {
              failureReason: `the node no longer knows its job ${update.jobId} (restarted?)`,
            });
            return;
          }
          // A node down for a moment is waited for; one that stays silent is given up on
          // rather than holding the round until its deadline.
          const key = `${round.id}:${hospital.id}`;
          const misses = (this.missedPolls.get(key) ?? 0) + 1;
          this.missedPolls.set(key, misses);
          if (misses >= this.deps.maxMissedPolls) {
            await move(hospital, ['dispatched', 'training'], 'failed', {
              failureReason: `the node stopped answering: ${misses} status checks in a row failed (last: ${(error as Error).message})`,
            });
          }
          return;
        }
        this.missedPolls.delete(`${round.id}:${hospital.id}`);
        if (job.status === 'failed') {
          await move(hospital, ['dispatched', 'training'], 'failed', {
            failureReason: `the hospital's training job failed: ${job.error ?? 'no reason given'}`,
          });
        } else if (['downloading', 'training', 'uploading'].includes(job.status)) {
          await move(hospital, ['dispatched'], 'training', {});
        }
      }),
    );
  }
}
