import { join } from 'node:path';
import sharp from 'sharp';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { explainDiagnosis } from '../../services/inference-api/lib/explanation.ts';
import type { LoadedModel } from '../../services/inference-api/lib/loaded-model.ts';
import { buildModel } from '../../shared/model/architectures.ts';
import { writeEnsembleDir } from '../../shared/model/ensemble.ts';
import { GradCamUnsupportedError } from '../../shared/model/grad-cam.ts';
import { saveModelDir } from '../../shared/model/model-dir.ts';
import { HttpError } from '../../shared/service/errors.ts';
import { tf } from '../../shared/tf/tf.ts';
import { monochrome1FromJpeg } from '../helpers/dicom.ts';
import { rgbPng, sampleJpeg } from './fixtures.ts';
import { useInferenceApp } from './test-app.ts';

// 64 px: the smallest input at which a ResNet-18's last stage is wider than 1 x 1 (2 x 2).
const INPUT_SIZE = 64;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

async function writeMember(path: string, seed: number): Promise<void> {
  const model = buildModel('se-resnet18-gn', { inputSize: INPUT_SIZE, width: 4, seed });
  try {
    await saveModelDir(path, model, {
      format: 'fedxray-model',
      version: 1,
      architecture: 'se-resnet18-gn',
      width: 4,
      preprocessing: { inputSize: INPUT_SIZE, normalization: 'per-image', equalize: false },
      classes: ['NORMAL', 'PNEUMONIA'],
      threshold: { threshold: 0.5, rule: 'fixed:0.5', description: 'fixed threshold 0.5' },
      parameters: model.countParams(),
      createdAt: new Date().toISOString(),
      training: { kind: 'federated', rounds: 1 },
    });
  } finally {
    model.dispose();
  }
}

const served = useInferenceApp('fedxray-explain-', async (dir) => {
  await writeMember(join(dir, 'seed-1'), 1);
  await writeMember(join(dir, 'seed-2'), 2);
  // An ensemble of two, like the shipped model: the map is the members' mean.
  await writeEnsembleDir(join(dir, 'model'), [join(dir, 'seed-1'), join(dir, 'seed-2')]);
  return { modelDir: join(dir, 'model') };
});

function diagnose(image: Buffer, query = '', filename = 'xray.png'): request.Test {
  return request(served.app.server).post(`/diagnose${query}`).attach('image', image, filename);
}

describe('POST /diagnose?explain=true', () => {
  it("answers a Grad-CAM PNG of the upload's width and height", async () => {
    const image = await rgbPng(300, 240);
    const res = await diagnose(image, '?explain=true');
    expect(res.status).toBe(200);
    const { explanation } = res.body;
    expect(explanation).toMatchObject({
      method: 'grad-cam',
      layer: 'stage4_block2_out',
      grid: { width: 2, height: 2 },
      width: 300,
      height: 240,
    });
    expect(explanation.timingMs).toBeGreaterThan(0);
    expect(res.body.timingMs).toBeGreaterThanOrEqual(explanation.timingMs);
    const png = Buffer.from(explanation.heatmapPng, 'base64');
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    const meta = await sharp(png).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 300, height: 240, channels: 3 });
  });

  it('answers the same heatmap bytes for the same image, and the same diagnosis as without', async () => {
    const image = sampleJpeg();
    const [a, b, plain] = [
      await diagnose(image, '?explain=true', 'xray.jpg'),
      await diagnose(image, '?explain=1', 'xray.jpg'),
      await diagnose(image, '', 'xray.jpg'),
    ];
    expect(a.body.explanation.heatmapPng).toBe(b.body.explanation.heatmapPng);
    const meta = await sharp(sampleJpeg()).metadata();
    expect(a.body.explanation).toMatchObject({ width: meta.width, height: meta.height });
    expect(plain.body.probability).toBe(a.body.probability);
  });

  it('draws a DICOM upload as the model read it, at its rows x columns', async () => {
    const jpeg = await sharp(await rgbPng(90, 70))
      .jpeg()
      .toBuffer();
    const res = await diagnose(await monochrome1FromJpeg(jpeg), '?explain=true', 'xray.dcm');
    expect(res.status).toBe(200);
    expect(res.body.dicom).toMatchObject({ rows: 70, columns: 90 });
    expect(res.body.explanation).toMatchObject({ width: 90, height: 70 });
    const png = Buffer.from(res.body.explanation.heatmapPng, 'base64');
    expect(await sharp(png).metadata()).toMatchObject({ format: 'png', width: 90, height: 70 });
  });

  it('answers no explanation without explain or with explain=false', async () => {
    const image = await rgbPng(64, 64);
    for (const query of ['', '?explain=false', '?explain=0']) {
      const res = await diagnose(image, query);
      expect(res.status).toBe(200);
      expect(res.body).not.toHaveProperty('explanation');
    }
  });

  it('refuses explain=maybe with 400', async () => {
    const res = await diagnose(await rgbPng(64, 64), '?explain=maybe');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid-request');
    expect(res.body.error.message).toMatch(/explain/);
  });

  it('keeps tf.memory().numTensors flat over repeated explanations', async () => {
    const image = await rgbPng(120, 100);
    await diagnose(image, '?explain=true');
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      expect((await diagnose(image, '?explain=true')).status).toBe(200);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('documents explain in the OpenAPI document', async () => {
    const res = await request(served.app.server).get('/docs/json');
    const operation = res.body.paths['/diagnose'].post;
    expect(operation.parameters).toContainEqual(
      expect.objectContaining({ name: 'explain', in: 'query' }),
    );
    expect(operation.description).toMatch(/one extra backward pass/);
    expect(operation.responses['409']).toBeDefined();
  });
});

describe('a model that cannot be explained', () => {
  it('is a 409 explain-unsupported', async () => {
    const loaded = {
      info: { id: 'm1', architecture: 'alexnet' },
      explain: () => {
        throw new GradCamUnsupportedError('no conv stage');
      },
    } as unknown as LoadedModel;
    const error = await explainDiagnosis(loaded, new Float32Array(4), await rgbPng(40, 40)).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ statusCode: 409, code: 'explain-unsupported' });
  });
});
