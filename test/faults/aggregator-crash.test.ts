// kill -9 of the aggregator in the middle of a round, then a restart on the same state: the
// run resumes from its last completed round; no model version is lost or duplicated.
import { afterEach, describe, expect, it } from 'vitest';
import { Platform } from './platform.ts';

const HOSPITALS = ['hospital-north', 'hospital-south', 'hospital-east'];

describe.each(['pglite', 'postgres'] as const)('the aggregator killed mid-round on %s', (kind) => {
  let platform: Platform | undefined;
  let cleanupDb: (() => Promise<void>) | undefined;

  afterEach(async () => {
    await platform?.stop();
    platform = undefined;
    await cleanupDb?.();
    cleanupDb = undefined;
  });

  it('resumes the run from its last completed round after a restart', async () => {
    let databaseUrl: string | undefined;
    if (kind === 'postgres') {
      const { createTestDatabase } = await import('../../shared/db/testing.ts');
      const test = await createTestDatabase('postgres');
      await test.db.close();
      cleanupDb = test.cleanup;
      databaseUrl = test.databaseUrl;
    }
    platform = await Platform.start({ hospitals: HOSPITALS, databaseUrl });
    const runId = await platform.startRun({ rounds: 3, localEpochs: 4, roundTimeoutSeconds: 300 });
    // Round 1 done, round 2 under way: crash.
    await platform.waitForRun(
      runId,
      120_000,
      (run) => run.rounds[0]?.status === 'completed' && run.rounds[1]?.status === 'dispatched',
    );
    const before = await platform.models();
    await platform.aggregator.crash();
    expect(platform.aggregator.alive).toBe(false);

    await platform.aggregator.start();
    const run = await platform.waitForRun(runId, 180_000);
    expect(run.status, `${run.failureReason}\n${platform.logs()}`).toBe('completed');
    expect(run.rounds.map((r) => r.status)).toEqual(['completed', 'completed', 'completed']);
    // Round 1's model survived the crash unchanged; round 2 started again from it.
    const round1 = before.find((m) => m.roundIndex === 1);
    expect(round1).toBeDefined();
    expect(run.rounds[0].outputModelId).toBe(round1?.id);
    expect(run.rounds[1].inputModelId).toBe(round1?.id);
    // One version per round plus the initial one, numbered without a gap or a repeat.
    const models = (await platform.models()).filter((m) => m.runId === runId);
    expect(models.map((m) => m.roundIndex).sort()).toEqual([0, 1, 2, 3]);
    expect(models.map((m) => m.version).sort()).toEqual([1, 2, 3, 4]);
    expect(new Set(models.map((m) => m.sha256)).size).toBe(4);
    // The restart is in the log.
    expect(platform.aggregator.output).toMatch(/resuming training run/);
    expect(platform.aggregator.output).toMatch(/round restarted/);
  });
});
