// A run cancelled while real hospital nodes train: the loop stops, the nodes drop their jobs,
// no model is made from the open round, and the next run starts on free nodes.
import { afterEach, describe, expect, it } from 'vitest';
import { Platform } from './platform.ts';

const HOSPITALS = ['hospital-north', 'hospital-south', 'hospital-east'];

interface NodeJob {
  status: string;
  error: string | null;
}

describe('a run cancelled mid-round (real processes)', () => {
  let platform: Platform | undefined;

  afterEach(async () => {
    await platform?.stop();
    platform = undefined;
  });

  it('stops the loop and the nodes, makes no model of the open round, frees the nodes', async () => {
    platform = await Platform.start({ hospitals: HOSPITALS });
    const runId = await platform.startRun({ rounds: 3, localEpochs: 20, roundTimeoutSeconds: 300 });
    // Every node has taken its job of round 1 and none has sent its update yet.
    const training = await platform.waitForRun(runId, 90_000, (run) => {
      const updates = run.rounds[0]?.updates ?? [];
      return (
        updates.length === HOSPITALS.length &&
        updates.every((u) => !!u.jobId && ['dispatched', 'training'].includes(u.status))
      );
    });
    const jobs = new Map(training.rounds[0].updates.map((u) => [u.hospitalName, u.jobId]));

    const cancelled = await platform.call('POST', `/rounds/${runId}/cancel`, {
      reason: 'wrong settings',
    });
    expect(cancelled.status, platform.logs()).toBe(200);
    const run = await platform.run(runId);
    expect(run.status).toBe('cancelled');
    expect(run.rounds.map((r) => r.status)).toEqual(['cancelled']);
    expect(run.rounds[0].outputModelId).toBeNull();
    for (const update of run.rounds[0].updates) expect(update.status).toBe('failed');
    // Only the run's initial model: nothing from the open round.
    expect((await platform.models()).map((m) => m.version)).toEqual([1]);

    // Each node was told and dropped its job (it answers with the job's final state).
    for (const [name, jobId] of jobs) {
      const node = platform.nodes.get(name);
      const res = await fetch(`${node?.url}/train/${jobId}`);
      const job = (await res.json()) as NodeJob;
      expect(job.status, `${name}: ${JSON.stringify(job)}`).toBe('failed');
      expect(job.error).toMatch(/cancelled/);
    }
    // A second cancel changes nothing.
    expect((await platform.call('POST', `/rounds/${runId}/cancel`)).status).toBe(409);

    // The nodes are free at once: a new run completes.
    const next = await platform.startRun({ rounds: 1, localEpochs: 1 });
    const done = await platform.waitForRun(next, 120_000);
    expect(done.status, platform.logs()).toBe('completed');
    expect(done.rounds[0].updates.map((u) => u.status).sort()).toEqual(
      HOSPITALS.map(() => 'accepted'),
    );
    // The cancelled run stayed cancelled.
    expect((await platform.run(runId)).status).toBe('cancelled');
  });
});
