// A model with temperature scaling in its metadata: /diagnose reports the tempered
// probability and threshold, with the raw ones beside them and the same label; a model
// without calibration answers exactly as before.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferenceApp } from '../../services/inference-api/app.ts';
import { parseProductionModel } from '../../services/inference-api/lib/production-model.ts';
import { temperProbability } from '../../shared/metrics/index.ts';
import { tf } from '../../shared/tf/tf.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { sampleJpeg, writeTinyModelDir } from './fixtures.ts';
import { startInferenceApp } from './test-app.ts';

const TEMPERATURE = 2.5;
const THRESHOLD = 0.3;

let dir: string;
let raw: InferenceApp;
let calibrated: InferenceApp;

/** The tiny model (same weights in both) with its threshold at 0.3 and, maybe, a temperature. */
async function modelDir(name: string, calibration?: Record<string, unknown>): Promise<string> {
  const modelDir = join(dir, name);
  await writeTinyModelDir(modelDir, 3);
  const file = join(modelDir, 'model.json');
  const metadata = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  metadata.threshold = { threshold: THRESHOLD, rule: 'fixed:0.3', description: 'fixed' };
  if (calibration) metadata.calibration = calibration;
  await writeFile(file, JSON.stringify(metadata));
  return modelDir;
}

function start(modelDirPath: string): Promise<InferenceApp> {
  return startInferenceApp({ modelDir: modelDirPath, maxUploadBytes: 1 << 20 });
}

beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'fedxray-calibrated-'));
  raw = await start(await modelDir('raw'));
  calibrated = await start(
    await modelDir('calibrated', {
      method: 'temperature',
      temperature: TEMPERATURE,
      nllBefore: 0.9,
      nllAfter: 0.5,
      eceBefore: 0.2,
      eceAfter: 0.03,
      afterTemperature: 2.5,
      reliabilityBefore: [],
      reliabilityAfter: [],
      basis: { hospitals: 3, images: 120, positives: 70, excluded: [] },
      description: 'test',
    }),
  );
});

afterAll(async () => {
  await raw?.close();
  await calibrated?.close();
  await rm(dir, { recursive: true, force: true });
});

const diagnose = (app: InferenceApp, label: 'NORMAL' | 'PNEUMONIA') =>
  request(app.server).post('/diagnose').attach('image', sampleJpeg(label), 'xray.jpg');

describe('a calibrated model', () => {
  it('reports the tempered probability and threshold, and the same label', async () => {
    for (const label of ['NORMAL', 'PNEUMONIA'] as const) {
      const before = await diagnose(raw, label);
      const after = await diagnose(calibrated, label);
      expect(before.status, before.text).toBe(200);
      expect(after.status, after.text).toBe(200);
      const p = before.body.probability as number;
      expect(after.body).toMatchObject({
        label: before.body.label,
        probabilityScale: 'temperature-scaled',
        rawProbability: p,
        rawThreshold: THRESHOLD,
        calibration: { method: 'temperature', temperature: TEMPERATURE },
      });
      expect(after.body.probability).toBeCloseTo(temperProbability(p, TEMPERATURE), 12);
      expect(after.body.probabilities.NORMAL).toBeCloseTo(1 - after.body.probability, 12);
      expect(after.body.threshold).toBeCloseTo(temperProbability(THRESHOLD, TEMPERATURE), 12);
      // The label reads the same in the tempered scale.
      expect(after.body.label).toBe(
        (after.body.probability as number) >= (after.body.threshold as number)
          ? 'PNEUMONIA'
          : 'NORMAL',
      );
    }
  });

  it('answers without calibration exactly as before: raw scale, no raw fields', async () => {
    const res = await diagnose(raw, 'PNEUMONIA');
    expect(res.body.probabilityScale).toBe('raw');
    expect(res.body.threshold).toBe(THRESHOLD);
    expect(res.body.probabilities.PNEUMONIA).toBe(res.body.probability);
    for (const key of ['rawProbability', 'rawThreshold', 'calibration'])
      expect(res.body).not.toHaveProperty(key);
    const current = await request(raw.server).get('/models/current');
    expect(current.body).not.toHaveProperty('calibration');
  });

  it('says so on GET /models/current, the threshold staying in the raw scale', async () => {
    const current = await request(calibrated.server).get('/models/current');
    expect(current.body).toMatchObject({
      threshold: THRESHOLD,
      calibration: { method: 'temperature', temperature: TEMPERATURE },
    });
  });

  it('keeps tf.memory().numTensors flat across diagnoses', async () => {
    await diagnose(calibrated, 'NORMAL');
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) expect((await diagnose(calibrated, 'PNEUMONIA')).status).toBe(200);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("reads the aggregator's calibration and refuses one of unknown scale", () => {
    const record = {
      id: 'm1',
      sha256: 'a'.repeat(64),
      architecture: 'se-resnet18-gn',
      inputSize: 32,
      metadata: { calibration: { method: 'temperature', temperature: 1.7, eceAfter: 0.02 } },
    };
    expect(parseProductionModel(record).calibration).toEqual({
      method: 'temperature',
      temperature: 1.7,
    });
    expect(parseProductionModel({ ...record, metadata: {} })).not.toHaveProperty('calibration');
    for (const calibration of [{ method: 'platt', temperature: 2 }, { method: 'temperature' }])
      expect(() => parseProductionModel({ ...record, metadata: { calibration } })).toThrow(
        /unusable calibration/,
      );
  });
});
