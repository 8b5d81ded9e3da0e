import type { CoordinatorDeps } from './round-runner.ts';
import type { VoidedUpdate } from './run-cancel.ts';

/** What a node answered when asked to stop its job of a cancelled run. */
export interface NodeCancellation {
  hospitalId: string;
  hospital: string;
  jobId: string | null;
  /** true: the node stopped the job; false: it could not be asked or did not (see `detail`). */
  stopped: boolean;
  detail: string | null;
}

/**
 * Best effort: asks each node still training for a cancelled run to stop
 * (`POST /train/{jobId}/cancel`, signed), in parallel. A node that cannot (an older node
 * without the route, a job already finished, a node down) finishes its job; its upload is then
 * refused (409 round-closed). Never throws.
 */
export async function cancelNodeJobs(
  deps: Pick<CoordinatorDeps, 'prisma' | 'client'>,
  voided: readonly VoidedUpdate[],
): Promise<NodeCancellation[]> {
  if (voided.length === 0) return [];
  // Read again: a dispatch in flight when the run was cancelled recorded its job id since
  // (the loop, waited for before this, waits for every dispatch's answer).
  const jobIds = new Map(
    (
      await deps.prisma.clientUpdate.findMany({
        where: { id: { in: voided.map((u) => u.id) } },
        select: { id: true, jobId: true },
      })
    ).map((u) => [u.id, u.jobId]),
  );
  return Promise.all(
    voided.map(async ({ id, hospital }): Promise<NodeCancellation> => {
      const jobId = jobIds.get(id) ?? null;
      const base = { hospitalId: hospital.id, hospital: hospital.name, jobId };
      if (jobId === null) {
        return {
          ...base,
          stopped: false,
          detail: 'no job id known (the dispatch failed or got no answer in time)',
        };
      }
      try {
        await deps.client.cancelJob(hospital, jobId, AbortSignal.timeout(30_000));
        return { ...base, stopped: true, detail: null };
      } catch (error) {
        return { ...base, stopped: false, detail: (error as Error).message };
      }
    }),
  );
}
