import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type InferenceApp } from '../../services/inference-api/app.ts';
import { decodeXray } from '../../shared/data/image.ts';
import { loadPredictorDir, writeEnsembleDir } from '../../shared/model/ensemble.ts';
import { tf } from '../../shared/tf/tf.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { sampleJpeg, TINY_PREPROCESSING, writeTinyModelDir } from './fixtures.ts';

let dir: string;
let app: InferenceApp;

beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'fedxray-inference-ensemble-'));
  await writeTinyModelDir(join(dir, 'm1'), 1);
  await writeTinyModelDir(join(dir, 'm2'), 2);
  await writeTinyModelDir(join(dir, 'm3'), 3);
  await writeEnsembleDir(
    join(dir, 'ensemble'),
    ['m1', 'm2', 'm3'].map((m) => join(dir, m)),
  );
  app = await buildApp(
    {
      port: 0,
      host: '127.0.0.1',
      modelDir: join(dir, 'ensemble'),
      modelPollSeconds: 0,
      maxUploadBytes: 2 * 1024 * 1024,
    },
    { logger: false },
  );
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('an ensemble served from MODEL_DIR', () => {
  it('is one model with three members in /models/current', async () => {
    const res = await request(app.server).get('/models/current');
    expect(res.status).toBe(200);
    expect(res.body.members).toBe(3);
    expect(res.body.id).toMatch(/^local-[0-9a-f]{12}$/);
    expect(res.body.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('diagnoses with the mean of its members, keeping the tensor count flat', async () => {
    const image = sampleJpeg('NORMAL');
    const predictor = await loadPredictorDir(join(dir, 'ensemble'));
    const pixels = await decodeXray(image, { size: 32, ...TINY_PREPROCESSING });
    const [expected] = predictor.score(pixels, 1, 32);
    predictor.dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const res = await request(app.server).post('/diagnose').attach('image', image, 'x.jpg');
      expect(res.status).toBe(200);
      expect(res.body.probability).toBeCloseTo(expected, 5);
      expect(res.body.timingMs).toBeGreaterThan(0);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
