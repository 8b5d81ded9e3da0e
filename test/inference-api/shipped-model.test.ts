import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferenceApp } from '../../services/inference-api/app.ts';
import { loadDataset, SAMPLE_DATA_DIR } from '../../shared/data/index.ts';
import { readModelMetadata } from '../../shared/model/model-dir.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { startInferenceApp } from './test-app.ts';

/** The model committed to the repository, served out of the box by `npm start`. */
const SHIPPED = new URL('../../models/fl-se-resnet18-gn', import.meta.url).pathname;

describe.runIf(existsSync(join(SHIPPED, 'model.json')))('the shipped model', () => {
  let app: InferenceApp;

  beforeAll(async () => {
    await useTestBackend();
    app = await startInferenceApp({ modelDir: SHIPPED, maxUploadBytes: 10 << 20 });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('is the paper architecture in float16, federated, at most 90 MB, with a model card', async () => {
    const meta = await readModelMetadata(SHIPPED);
    expect(meta.architecture).toBe('se-resnet18-gn');
    expect(meta.width).toBe(64);
    // A single model or an ensemble of them (issue 13: at most 90 MB in all).
    const top = JSON.parse(await readFile(join(SHIPPED, 'model.json'), 'utf8')) as {
      ensemble?: { members: string[] };
    };
    const dirs = top.ensemble ? top.ensemble.members.map((m) => join(SHIPPED, m)) : [SHIPPED];
    let bytes = 0;
    for (const dir of dirs) {
      expect((await readModelMetadata(dir)).training).toMatchObject({ kind: 'federated' });
      const weights = JSON.parse(await readFile(join(dir, 'weights.json'), 'utf8'));
      expect(weights.dtype).toBe('float16');
      bytes += (await stat(join(dir, 'weights.bin'))).size;
    }
    expect(bytes).toBeLessThanOrEqual(90 * 2 ** 20);
    expect(existsSync(join(SHIPPED, 'MODEL_CARD.md'))).toBe(true);
  });

  it('loads in the inference API and diagnoses a real X-ray', async () => {
    expect((await request(app.server).get('/ready')).status).toBe(200);
    const image = (await loadDataset(SAMPLE_DATA_DIR)).find((r) => r.label === 1)!.path;
    const res = await request(app.server).post('/diagnose').attach('image', image);
    expect(res.status).toBe(200);
    expect(['NORMAL', 'PNEUMONIA']).toContain(res.body.label);
    expect(res.body.model.architecture).toBe('se-resnet18-gn');
    expect(res.body.probabilities.NORMAL + res.body.probabilities.PNEUMONIA).toBeCloseTo(1, 5);
    // It has no temperature scaling: its probabilities are reported raw, as they always were.
    expect((await readModelMetadata(SHIPPED)).calibration).toBeUndefined();
    expect(res.body.probabilityScale).toBe('raw');
    expect(res.body).not.toHaveProperty('rawProbability');
    expect(res.body).not.toHaveProperty('calibration');
  });
});
