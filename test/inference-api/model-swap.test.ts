import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type InferenceApp } from '../../services/inference-api/app.ts';
import type { InferenceConfig } from '../../services/inference-api/config.ts';
import { tf } from '../../shared/tf/tf.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import {
  sampleJpeg,
  startFakeAggregator,
  tinyAggregatorModel,
  writeTinyModelDir,
  type FakeAggregator,
  type FakeModel,
} from './fixtures.ts';
import { inferenceTestConfig } from './test-app.ts';

let aggregator: FakeAggregator;
let app: InferenceApp;
let modelA: FakeModel;
let modelB: FakeModel;

function config(overrides: Partial<InferenceConfig> = {}): InferenceConfig {
  return inferenceTestConfig({
    aggregatorUrl: aggregator.url,
    maxUploadBytes: 10 * 1024 * 1024,
    ...overrides,
  });
}

function diagnose(): Promise<request.Response> {
  return request(app.server).post('/diagnose').attach('image', sampleJpeg(), 'xray.jpg').then();
}

beforeAll(async () => {
  await useTestBackend();
  aggregator = await startFakeAggregator();
  modelA = tinyAggregatorModel('model-a', 1, 1);
  modelB = tinyAggregatorModel('model-b', 2, 2);
  app = await buildApp(config(), { logger: false });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await aggregator?.close();
});

describe('inference-api with the aggregator', () => {
  it('is not ready while the aggregator has no production model', async () => {
    expect(await app.reload()).toEqual({ status: 'no-production-model' });
    const ready = await request(app.server).get('/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.error).toMatchObject({ code: 'no-model', details: { loading: false } });
    const current = await request(app.server).get('/models/current');
    expect(current.status).toBe(404);
    expect(current.body.error.code).toBe('no-model');
    const res = await diagnose();
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('no-model');
  });

  it('loads the production model, verified against its sha256', async () => {
    aggregator.production = modelA;
    expect(await app.reload()).toEqual({ status: 'loaded', modelId: 'model-a' });
    const current = await request(app.server).get('/models/current');
    expect(current.body).toMatchObject({
      id: 'model-a',
      version: 1,
      round: 0,
      sha256: modelA.record.sha256,
      architecture: 'se-resnet18-gn',
      width: 8,
      inputSize: 32,
      threshold: 0.5,
      thresholdRule: 'fixed:0.5',
      preprocessing: { inputSize: 32, normalization: 'per-image', equalize: false },
      source: 'aggregator',
    });
    expect((await request(app.server).get('/ready')).body).toEqual({
      ready: true,
      model: {
        id: 'model-a',
        version: 1,
        round: 0,
        sha256: modelA.record.sha256,
        architecture: 'se-resnet18-gn',
      },
      inFlight: 0,
      maxConcurrentDiagnoses: 32,
    });
    const res = await diagnose();
    expect(res.status).toBe(200);
    expect(res.body.model.id).toBe('model-a');

    const downloads = aggregator.weightRequests;
    expect(await app.reload()).toEqual({ status: 'unchanged', modelId: 'model-a' });
    expect(aggregator.weightRequests).toBe(downloads);
  });

  it('swaps to a newly promoted model without failing requests in flight', async () => {
    const tensorsWithOneModel = tf.memory().numTensors;
    aggregator.production = modelB;
    let openGate = (): void => {};
    aggregator.weightsGate = new Promise((resolve) => (openGate = resolve));
    const requested = aggregator.weightRequests;
    const reload = app.reload();
    while (aggregator.weightRequests === requested) await new Promise((r) => setTimeout(r, 5));

    // B is downloading: requests are answered by A meanwhile.
    const whileLoading = await Promise.all(Array.from({ length: 4 }, () => diagnose()));
    // These race the swap.
    const racing = Array.from({ length: 6 }, () => diagnose());
    openGate();
    const outcome = await reload;
    aggregator.weightsGate = null;
    const afterSwap = await Promise.all(Array.from({ length: 4 }, () => diagnose()));

    expect(outcome).toEqual({ status: 'loaded', modelId: 'model-b' });
    for (const res of [...whileLoading, ...(await Promise.all(racing)), ...afterSwap]) {
      expect(res.status).toBe(200);
      expect(['model-a', 'model-b']).toContain(res.body.model.id);
    }
    expect(whileLoading.map((r) => r.body.model.id)).toEqual(Array(4).fill('model-a'));
    expect(afterSwap.map((r) => r.body.model.id)).toEqual(Array(4).fill('model-b'));
    expect((await request(app.server).get('/models/current')).body.id).toBe('model-b');
    // A was disposed once its requests were done: one model's tensors again.
    expect(tf.memory().numTensors).toBe(tensorsWithOneModel);
  });

  it('disposes the old model only after the last request holding it is done', async () => {
    const tensorsWithOneModel = tf.memory().numTensors;
    const lease = app.models.acquire();
    expect(lease?.value.info.id).toBe('model-b');
    aggregator.production = modelA;
    expect((await app.reload()).status).toBe('loaded');
    expect(app.models.current?.info.id).toBe('model-a');
    // B is retired but still usable by the request that holds it.
    const size = 32;
    const [p] = lease!.value.score(new Float32Array(size * size), 1, size);
    expect(Number.isFinite(p)).toBe(true);
    expect(tf.memory().numTensors).toBeGreaterThan(tensorsWithOneModel);
    lease!.release();
    lease!.release();
    expect(tf.memory().numTensors).toBe(tensorsWithOneModel);
  });

  it('keeps the current model when a new one fails to load', async () => {
    const broken: FakeModel = {
      id: 'model-c',
      record: { ...modelB.record, id: 'model-c', sha256: 'c'.repeat(64) },
      packed: modelB.packed,
    };
    aggregator.production = broken;
    const mismatch = await app.reload();
    expect(mismatch).toMatchObject({ status: 'failed', modelId: 'model-c' });
    expect(mismatch.error).toMatch(/sha256/);

    aggregator.production = modelB;
    aggregator.weightsOverride = Buffer.from('FXW1 but not really');
    const corrupt = await app.reload();
    expect(corrupt.status).toBe('failed');
    aggregator.weightsOverride = null;

    aggregator.production = {
      id: 'model-d',
      record: { ...modelB.record, id: 'model-d', architecture: 'mystery-net' },
      packed: modelB.packed,
    };
    expect((await app.reload()).error).toMatch(/unknown architecture/);

    expect(app.models.current?.info.id).toBe('model-a');
    expect(app.models.status.lastError).toMatch(/unknown architecture/);
    expect((await request(app.server).get('/ready')).status).toBe(200);
    expect((await diagnose()).body.model.id).toBe('model-a');
  });

  it('reads a differently shaped production record (no width, flat fields, numeric threshold)', async () => {
    const { record } = modelB;
    aggregator.production = {
      id: 'model-e',
      record: {
        model: {
          id: 'model-e',
          version: '7',
          round: 3,
          sha256: record.sha256,
          architecture: 'se-resnet18-gn',
          preprocessing: { inputSize: 32, normalization: 'per-image', equalize: false },
          threshold: 0.3,
        },
      },
      packed: modelB.packed,
    };
    expect(await app.reload()).toEqual({ status: 'loaded', modelId: 'model-e' });
    expect((await request(app.server).get('/models/current')).body).toMatchObject({
      id: 'model-e',
      version: 7,
      round: 3,
      width: 8,
      inputSize: 32,
      threshold: 0.3,
      thresholdRule: null,
    });
    const res = await diagnose();
    expect(res.body.threshold).toBe(0.3);
    expect(res.body.label).toBe(res.body.probability >= 0.3 ? 'PNEUMONIA' : 'NORMAL');
  });

  it('labels at the threshold the aggregator chose for the version, with its basis', async () => {
    const { probability } = (await diagnose()).body as { probability: number };
    const cases = [
      ['model-f', Math.min(probability + 1e-4, 1), 'NORMAL'],
      ['model-g', Math.max(probability - 1e-4, 0), 'PNEUMONIA'],
    ] as const;
    for (const [id, threshold, label] of cases) {
      const metadata = modelB.record.metadata as Record<string, unknown>;
      aggregator.production = {
        id,
        record: {
          ...modelB.record,
          id,
          metadata: {
            ...metadata,
            threshold: {
              threshold,
              rule: 'min-recall:0.9',
              description: 'highest threshold with recall >= 0.9 ...',
              basis: { hospitals: 2, images: 23, positives: 13, negatives: 10, bins: 100 },
            },
          },
        },
        packed: modelB.packed,
      };
      expect(await app.reload()).toEqual({ status: 'loaded', modelId: id });
      expect((await request(app.server).get('/models/current')).body).toMatchObject({
        threshold,
        thresholdRule: 'min-recall:0.9',
      });
      const res = await diagnose();
      expect(res.body).toMatchObject({ threshold, label, probability, model: { id } });
    }
  });

  it('keeps its model when the aggregator is unreachable', async () => {
    const down = await buildApp(config({ aggregatorUrl: 'http://127.0.0.1:9' }), {
      logger: false,
    });
    await down.ready();
    const outcome = await down.reload();
    expect(outcome.status).toBe('failed');
    expect(outcome.error).toMatch(/cannot read the production model/);
    expect((await request(down.server).get('/ready')).body.error.details.lastError).toMatch(
      /cannot read/,
    );
    await down.close();
  });
});

describe('MODEL_DIR and polling together', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedxray-inference-swap-'));
    await writeTinyModelDir(dir, 3);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('serves the directory model, then the production model found by polling', async () => {
    aggregator.production = null;
    const polling = await buildApp(config({ modelDir: dir, modelPollSeconds: 0.1 }), {
      logger: false,
    });
    try {
      await polling.ready();
      const first = await request(polling.server).get('/models/current');
      expect(first.body.source).toBe('directory');

      aggregator.production = modelA;
      const deadline = Date.now() + 10_000;
      let current = first.body;
      while (current.source !== 'aggregator' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        current = (await request(polling.server).get('/models/current')).body;
      }
      expect(current).toMatchObject({ id: 'model-a', source: 'aggregator' });
    } finally {
      await polling.close();
    }
  });
});
