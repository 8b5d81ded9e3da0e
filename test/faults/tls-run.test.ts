// A federated run with every service on HTTPS (TLS_CERT_FILE/TLS_KEY_FILE), the peers trusting
// the private certificate through NODE_EXTRA_CA_CERTS (docs/tls.md), as real processes.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hasOpenssl } from '../helpers/certificate.ts';
import { Platform } from './platform.ts';

const HOSPITALS = ['hospital-north', 'hospital-south', 'hospital-east'];

describe.skipIf(!hasOpenssl)('a federated run over HTTPS (real processes)', () => {
  let platform: Platform | undefined;

  beforeAll(() => {
    // Only this test process (the admin client) skips verification of the self-signed
    // certificate: the services themselves verify it, which is what this test is about.
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  });

  afterEach(async () => {
    await platform?.stop();
    platform = undefined;
  });

  it('trains over three nodes that all speak HTTPS, and refuses plain HTTP', async () => {
    platform = await Platform.start({ hospitals: HOSPITALS, tls: true });
    expect(platform.aggregator.url).toMatch(/^https:/);
    const info = await platform.call('GET', '/info');
    expect(info.body).toMatchObject({ tls: true });
    await expect(
      fetch(platform.aggregator.url.replace('https:', 'http:') + '/health'),
    ).rejects.toThrow();

    const runId = await platform.startRun({ rounds: 2, localEpochs: 1 });
    const run = await platform.waitForRun(runId, 120_000);
    expect(run.status, `${run.failureReason}\n${platform.logs()}`).toBe('completed');
    for (const round of run.rounds) {
      expect(round.updates.map((u) => u.status)).toEqual(['accepted', 'accepted', 'accepted']);
    }
    // The aggregator dispatched to https:// nodes, which downloaded and uploaded over https.
    const hospitals = await platform.call('GET', '/hospitals');
    for (const h of (hospitals.body as { hospitals: { baseUrl: string }[] }).hospitals) {
      expect(h.baseUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    }
  });
});
