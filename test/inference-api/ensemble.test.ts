import { join } from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { decodeXray } from '../../shared/data/image.ts';
import { loadPredictorDir, writeEnsembleDir } from '../../shared/model/ensemble.ts';
import { tf } from '../../shared/tf/tf.ts';
import { sampleJpeg, TINY_PREPROCESSING, writeTinyModelDir } from './fixtures.ts';
import { useInferenceApp } from './test-app.ts';

const served = useInferenceApp('fedxray-inference-ensemble-', async (dir) => {
  await writeTinyModelDir(join(dir, 'm1'), 1);
  await writeTinyModelDir(join(dir, 'm2'), 2);
  await writeTinyModelDir(join(dir, 'm3'), 3);
  await writeEnsembleDir(
    join(dir, 'ensemble'),
    ['m1', 'm2', 'm3'].map((m) => join(dir, m)),
  );
  return { modelDir: join(dir, 'ensemble') };
});

describe('an ensemble served from MODEL_DIR', () => {
  it('is one model with three members in /models/current', async () => {
    const res = await request(served.app.server).get('/models/current');
    expect(res.status).toBe(200);
    expect(res.body.members).toBe(3);
    expect(res.body.id).toMatch(/^local-[0-9a-f]{12}$/);
    expect(res.body.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('diagnoses with the mean of its members, keeping the tensor count flat', async () => {
    const image = sampleJpeg('NORMAL');
    const predictor = await loadPredictorDir(join(served.dir, 'ensemble'));
    const pixels = await decodeXray(image, { size: 32, ...TINY_PREPROCESSING });
    const [expected] = predictor.score(pixels, 1, 32);
    predictor.dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const res = await request(served.app.server)
        .post('/diagnose')
        .attach('image', image, 'x.jpg');
      expect(res.status).toBe(200);
      expect(res.body.probability).toBeCloseTo(expected, 5);
      expect(res.body.timingMs).toBeGreaterThan(0);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
