import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferenceApp } from '../../services/inference-api/app.ts';
import type { InferenceConfig } from '../../services/inference-api/config.ts';
import { metricTypes, parseExposition, sampleValue, type Sample } from '../helpers/prometheus.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import {
  sampleJpeg,
  startFakeAggregator,
  tinyAggregatorModel,
  writeTinyModelDir,
  type FakeAggregator,
} from './fixtures.ts';
import { buildInferenceApp } from './test-app.ts';

let dir: string;
let aggregator: FakeAggregator;
const apps: InferenceApp[] = [];

async function start(overrides: Partial<InferenceConfig>): Promise<InferenceApp> {
  const app = await buildInferenceApp({
    stateDir: join(dir, `state-${apps.length}`),
    ...overrides,
  });
  apps.push(app);
  await app.ready();
  return app;
}

async function scrape(app: InferenceApp): Promise<{ text: string; samples: Sample[] }> {
  const res = await request(app.server).get('/metrics');
  expect(res.status).toBe(200);
  return { text: res.text, samples: parseExposition(res.text) };
}

beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'fedxray-inference-metrics-'));
  await writeTinyModelDir(join(dir, 'model'));
  aggregator = await startFakeAggregator();
});

afterAll(async () => {
  for (const app of apps) await app.close();
  await aggregator?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('inference-api metrics', () => {
  it('counts diagnoses by label and model version, and names the MODEL_DIR model', async () => {
    const app = await start({ modelDir: join(dir, 'model') });
    const id = app.models.current?.info.id;
    expect(id).toMatch(/^local-/);
    const before = await scrape(app);
    expect(metricTypes(before.text).get('fedxray_diagnoses_total')).toBe('counter');
    expect(sampleValue(before.samples, 'fedxray_model_info', { source: 'directory' })).toBe(1);
    expect(before.samples.find((s) => s.name === 'fedxray_model_info')?.labels).toEqual({
      id,
      version: id,
      source: 'directory',
    });
    expect(
      sampleValue(before.samples, 'fedxray_model_load_seconds_count', { source: 'directory' }),
    ).toBe(1);

    const answers: string[] = [];
    for (const label of ['PNEUMONIA', 'NORMAL', 'PNEUMONIA'] as const) {
      const res = await request(app.server)
        .post('/diagnose')
        .attach('image', sampleJpeg(label), 'xray.jpg');
      expect(res.status).toBe(200);
      answers.push(res.body.label);
    }
    // A refused upload is no diagnosis.
    const refused = await request(app.server)
      .post('/diagnose')
      .attach('image', Buffer.from('not an image'), 'x.jpg');
    expect(refused.status).toBe(400);

    const after = await scrape(app);
    for (const label of ['NORMAL', 'PNEUMONIA']) {
      expect(
        sampleValue(after.samples, 'fedxray_diagnoses_total', { label, model_version: id! }),
      ).toBe(answers.filter((a) => a === label).length);
    }
    const route = { method: 'POST', route: '/diagnose' };
    expect(
      sampleValue(after.samples, 'http_requests_total', { ...route, status_code: '200' }),
    ).toBe(3);
    expect(
      sampleValue(after.samples, 'http_requests_total', { ...route, status_code: '400' }),
    ).toBe(1);
  });

  it('tells the aggregator model in service by its version, and counts failed polls', async () => {
    const app = await start({ aggregatorUrl: aggregator.url });
    expect(await app.reload()).toMatchObject({ status: 'no-production-model' });
    let { samples } = await scrape(app);
    expect(samples.filter((s) => s.name === 'fedxray_model_info')).toEqual([]);

    aggregator.production = tinyAggregatorModel('model-a', 1, 1);
    expect(await app.reload()).toMatchObject({ status: 'loaded' });
    aggregator.production = tinyAggregatorModel('model-b', 2, 2);
    expect(await app.reload()).toMatchObject({ status: 'loaded' });
    ({ samples } = await scrape(app));
    // Only the model in service: the one swapped out is gone.
    expect(samples.filter((s) => s.name === 'fedxray_model_info')).toEqual([
      {
        name: 'fedxray_model_info',
        labels: { id: 'model-b', version: '2', source: 'aggregator' },
        value: 1,
      },
    ]);
    expect(sampleValue(samples, 'fedxray_model_load_seconds_count', { source: 'aggregator' })).toBe(
      2,
    );
    expect(
      sampleValue(samples, 'fedxray_model_load_seconds_sum', { source: 'aggregator' }),
    ).toBeGreaterThan(0);

    aggregator.weightsOverride = Buffer.from('corrupt');
    aggregator.production = tinyAggregatorModel('model-c', 3, 3);
    expect(await app.reload()).toMatchObject({ status: 'failed' });
    aggregator.weightsOverride = null;
    ({ samples } = await scrape(app));
    expect(sampleValue(samples, 'fedxray_model_poll_failures_total')).toBe(1);
    expect(sampleValue(samples, 'fedxray_model_info', { id: 'model-b' })).toBe(1);

    const res = await request(app.server)
      .post('/diagnose')
      .attach('image', sampleJpeg('NORMAL'), 'xray.jpg');
    expect(res.status).toBe(200);
    ({ samples } = await scrape(app));
    expect(
      sampleValue(samples, 'fedxray_diagnoses_total', {
        label: res.body.label,
        model_version: '2',
      }),
    ).toBe(1);
  });
});
