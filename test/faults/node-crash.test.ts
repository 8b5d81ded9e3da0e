// kill -9 of a hospital node while it trains: the round completes without it (or, when too
// few hospitals remain, fails saying why) and nothing hangs.
import { afterEach, describe, expect, it } from 'vitest';
import { Platform, type RunBody } from './platform.ts';

const HOSPITALS = ['hospital-north', 'hospital-south', 'hospital-east'];
const VICTIM = 'hospital-east';

const updateOf = (run: RunBody, round: number, name: string) =>
  run.rounds[round]?.updates.find((u) => u.hospitalName === name);

describe('a hospital node killed mid-training (real processes)', () => {
  let platform: Platform | undefined;

  afterEach(async () => {
    await platform?.stop();
    platform = undefined;
  });

  it.each([
    { minHospitals: 2, outcome: 'completes without it' },
    { minHospitals: 3, outcome: 'fails with the reason when too few remain' },
  ])('minHospitals $minHospitals: the run $outcome', async ({ minHospitals }) => {
    platform = await Platform.start({ hospitals: HOSPITALS });
    const started = Date.now();
    const runId = await platform.startRun({
      rounds: 2,
      localEpochs: 10,
      minHospitals,
      roundTimeoutSeconds: 300,
    });
    // The victim has taken its job (the aggregator recorded the job id) and has not sent its
    // update yet: kill it then, while it downloads or trains.
    await platform.waitForRun(runId, 90_000, (run) => {
      const update = updateOf(run, 0, VICTIM);
      return !!update?.jobId && ['dispatched', 'training'].includes(update.status);
    });
    const victim = platform.nodes.get(VICTIM);
    await victim?.crash();

    const run = await platform.waitForRun(runId, 120_000);
    const elapsed = Date.now() - started;
    const killed = updateOf(run, 0, VICTIM);
    expect(killed?.status).toBe('failed');
    expect(killed?.failureReason).toMatch(
      /the node stopped answering: 3 status checks in a row failed/,
    );
    // Given up on within seconds, not at the 300 s deadline.
    expect(elapsed).toBeLessThan(200_000);
    const models = await platform.models();
    if (minHospitals === 2) {
      expect(run.status, platform.logs()).toBe('completed');
      expect(run.rounds.map((r) => r.status)).toEqual(['completed', 'completed']);
      expect(run.rounds[0].metrics).toMatchObject({ train: { hospitals: 2 } });
      // Round 2 leaves the dead node out at selection (health check).
      expect(run.rounds[1].updates.map((u) => u.hospitalName).sort()).toEqual([
        'hospital-north',
        'hospital-south',
      ]);
      expect(models.map((m) => m.version).sort()).toEqual([1, 2, 3]);
    } else {
      expect(run.status).toBe('failed');
      expect(run.failureReason).toMatch(
        /^round 1 failed: 2 accepted update\(s\), fewer than minHospitals = 3 \[.*hospital-east: failed \(the node stopped answering/,
      );
      // Only the initial model: no half-made version.
      expect(models.map((m) => m.version)).toEqual([1]);
    }
  });
});
