// Hospitals that send poisoned updates, as processes of their own next to three real nodes:
// one with a NaN in every tensor, one 1,000x the size of an honest update. Both are rejected
// with the reason on their ClientUpdate and the round goes on with the honest three.
import { afterEach, describe, expect, it } from 'vitest';
import { Platform } from './platform.ts';

const HONEST = ['hospital-north', 'hospital-south', 'hospital-east'];

describe('poisoned updates (real processes)', () => {
  let platform: Platform | undefined;

  afterEach(async () => {
    await platform?.stop();
    platform = undefined;
  });

  it('rejects a NaN update and an outsized one, and averages the honest three', async () => {
    platform = await Platform.start({
      hospitals: HONEST,
      malicious: { 'hospital-nan': 'nan', 'hospital-huge': 'scale' },
    });
    const runId = await platform.startRun({ rounds: 1, localEpochs: 1, minHospitals: 3 });
    const run = await platform.waitForRun(runId, 120_000);
    expect(run.status, `${run.failureReason}\n${platform.logs()}`).toBe('completed');
    const byName = new Map(run.rounds[0].updates.map((u) => [u.hospitalName, u]));
    expect(byName.get('hospital-nan')?.status).toBe('rejected');
    expect(byName.get('hospital-nan')?.failureReason).toMatch(/not finite|NaN/i);
    expect(byName.get('hospital-huge')?.status).toBe('rejected');
    expect(byName.get('hospital-huge')?.failureReason).toMatch(
      /^rejected as an outlier: update norm \S+ is \S+x the round's median/,
    );
    for (const name of HONEST) expect(byName.get(name)?.status).toBe('accepted');
    expect(run.rounds[0].metrics).toMatchObject({ train: { hospitals: 3 } });
    const norms = (
      run.rounds[0].metrics as { updateNorms: { hospital: string; rejected: boolean }[] }
    ).updateNorms;
    expect(norms.filter((n) => n.rejected).map((n) => n.hospital)).toEqual(['hospital-huge']);
    // The averaged model went into production.
    const production = await platform.call('GET', '/models/production');
    expect(production.status).toBe(200);
    expect((production.body as { id: string }).id).toBe(run.finalModelId);
  });
});
