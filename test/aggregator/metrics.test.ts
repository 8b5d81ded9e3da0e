import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { metricTypes, parseExposition, sampleValue, type Sample } from '../helpers/prometheus.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { AggregatorHarness } from './harness.ts';

const h = new AggregatorHarness();

beforeAll(useTestBackend);
afterEach(() => h.close());

async function scrape(): Promise<{ text: string; samples: Sample[] }> {
  const res = await fetch(`${h.agg.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, samples: parseExposition(text) };
}

describe('aggregator metrics', () => {
  it('counts accepted and rejected updates, the round and the runs by state', async () => {
    await h.start('pglite');
    await h.addHospitals({
      'hospital-a': {},
      'hospital-b': {},
      // Wrong shape: refused with 422 incompatible-update.
      'hospital-bad': {
        makeUpdate: (global) =>
          global.map((w, i) => (i === 0 ? { ...w, shape: [w.data.length], data: w.data } : w)),
      },
    });
    const before = await scrape();
    expect(sampleValue(before.samples, 'fedxray_aggregator_updates_accepted_total')).toBe(0);
    expect(sampleValue(before.samples, 'fedxray_aggregator_runs', { state: 'completed' })).toBe(0);

    const run = await h.runToEnd({ rounds: 1 });
    expect(run.status, run.failureReason ?? '').toBe('completed');

    const { text, samples } = await scrape();
    expect(metricTypes(text).get('fedxray_aggregator_round_duration_seconds')).toBe('histogram');
    expect(metricTypes(text).get('fedxray_aggregator_updates_rejected_total')).toBe('counter');
    expect(sampleValue(samples, 'fedxray_aggregator_updates_accepted_total')).toBe(2);
    expect(
      sampleValue(samples, 'fedxray_aggregator_updates_rejected_total', {
        reason: 'incompatible-update',
      }),
    ).toBe(1);
    expect(sampleValue(samples, 'fedxray_aggregator_rounds_total', { outcome: 'completed' })).toBe(
      1,
    );
    expect(
      sampleValue(samples, 'fedxray_aggregator_round_duration_seconds_count', {
        outcome: 'completed',
      }),
    ).toBe(1);
    expect(
      sampleValue(samples, 'fedxray_aggregator_round_duration_seconds_sum', {
        outcome: 'completed',
      }),
    ).toBeGreaterThan(0);
    expect(sampleValue(samples, 'fedxray_aggregator_runs', { state: 'completed' })).toBe(1);
    expect(sampleValue(samples, 'fedxray_aggregator_runs', { state: 'running' })).toBe(0);
    // The upload route by its pattern, never by a run id.
    const uploads = { method: 'POST', route: '/rounds/:runId/updates' };
    expect(sampleValue(samples, 'http_requests_total', { ...uploads, status_code: '202' })).toBe(2);
    expect(sampleValue(samples, 'http_requests_total', { ...uploads, status_code: '422' })).toBe(1);
    expect(samples.some((s) => s.labels.route?.includes(run.id))).toBe(false);
  });

  it('counts updates the strategy leaves out as rejected by the strategy', async () => {
    await h.start('pglite');
    await h.addHospitals({
      'hospital-a': {},
      'hospital-b': {},
      'hospital-c': {},
      'hospital-poisoned': {
        makeUpdate: (global) => global.map((w) => ({ ...w, data: w.data.map((v) => v + 1) })),
      },
    });
    const run = await h.runToEnd({ rounds: 1 });
    expect(run.status, run.failureReason ?? '').toBe('completed');
    const { samples } = await scrape();
    expect(sampleValue(samples, 'fedxray_aggregator_updates_accepted_total')).toBe(4);
    expect(
      sampleValue(samples, 'fedxray_aggregator_updates_rejected_total', { reason: 'strategy' }),
    ).toBe(1);
  });
});
