// PostgreSQL stopped and started again while a run is in its second round: the aggregator
// keeps running, answers 503 while the database is away, and the run completes with one
// model version per round. The server is the test's own (test/helpers/private-postgres.ts).
import { afterEach, describe, expect, it } from 'vitest';
import { Platform } from './platform.ts';
import { postgresBinDir, PrivatePostgres } from '../helpers/private-postgres.ts';

const HOSPITALS = ['hospital-north', 'hospital-south', 'hospital-east'];

describe.skipIf(!postgresBinDir())('PostgreSQL restarted during a run', () => {
  let platform: Platform | undefined;
  let postgres: PrivatePostgres | undefined;

  afterEach(async () => {
    await platform?.stop();
    platform = undefined;
    await postgres?.destroy();
    postgres = undefined;
  });

  it('rides out the outage and completes the run without a lost or duplicated version', async () => {
    postgres = await PrivatePostgres.start();
    platform = await Platform.start({ hospitals: HOSPITALS, databaseUrl: postgres.url });
    const runId = await platform.startRun({ rounds: 3, localEpochs: 4, roundTimeoutSeconds: 300 });
    await platform.waitForRun(
      runId,
      120_000,
      (run) => run.rounds[0]?.status === 'completed' && run.rounds[1]?.status === 'dispatched',
    );

    await postgres.stopServer('fast');
    // While the database is away the aggregator answers, with 503 and the reason.
    const during = await platform.call('GET', `/rounds/${runId}`);
    expect(during.status).toBe(503);
    expect(during.body).toMatchObject({ error: { code: 'database-unavailable' } });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await postgres.startServer();

    const run = await platform.waitForRun(runId, 180_000);
    expect(platform.aggregator.alive).toBe(true);
    expect(run.status, `${run.failureReason}\n${platform.logs()}`).toBe('completed');
    expect(run.rounds.map((r) => r.status)).toEqual(['completed', 'completed', 'completed']);
    // The round loop saw the outage, waited, and ran round 2 again once the server was back.
    expect(platform.aggregator.output).toMatch(
      /database unavailable: the run resumes when it is back/,
    );
    expect(platform.aggregator.output).toMatch(/round restarted/);
    const models = (await platform.models()).filter((m) => m.runId === runId);
    expect(models.map((m) => m.roundIndex).sort()).toEqual([0, 1, 2, 3]);
    expect(models.map((m) => m.version).sort()).toEqual([1, 2, 3, 4]);
  });
});
