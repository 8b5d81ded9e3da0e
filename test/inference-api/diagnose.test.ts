import { join } from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { DISCLAIMER } from '../../services/inference-api/schemas/diagnose.ts';
import { tf } from '../../shared/tf/tf.ts';
import {
  gif,
  hugePngHeader,
  largeJpeg,
  noisePng,
  rgbPng,
  sampleJpeg,
  tinyPng,
  writeTinyModelDir,
} from './fixtures.ts';
import { buildInferenceApp, useInferenceApp } from './test-app.ts';

const MAX_UPLOAD_BYTES = 2 * 1024 * 1024;

const served = useInferenceApp('fedxray-inference-', async (dir) => {
  await writeTinyModelDir(join(dir, 'model'));
  return { modelDir: join(dir, 'model'), maxUploadBytes: MAX_UPLOAD_BYTES };
});

function diagnose(image: Buffer, filename = 'xray.jpg', field = 'image'): request.Test {
  return request(served.app.server).post('/diagnose').attach(field, image, filename);
}

describe('POST /diagnose', () => {
  it('diagnoses a real chest X-ray from the sample', async () => {
    const res = await diagnose(sampleJpeg('PNEUMONIA'));
    expect(res.status).toBe(200);
    const body = res.body;
    expect(['NORMAL', 'PNEUMONIA']).toContain(body.label);
    expect(body.probability).toBeGreaterThanOrEqual(0);
    expect(body.probability).toBeLessThanOrEqual(1);
    expect(body.probabilities.PNEUMONIA).toBeCloseTo(body.probability, 6);
    expect(body.probabilities.NORMAL + body.probabilities.PNEUMONIA).toBeCloseTo(1, 6);
    expect(body.threshold).toBe(0.5);
    expect(body.label).toBe(body.probability >= 0.5 ? 'PNEUMONIA' : 'NORMAL');
    expect(body.model).toEqual({
      id: expect.stringMatching(/^local-[0-9a-f]{12}$/),
      version: null,
      round: 2,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      architecture: 'se-resnet18-gn',
    });
    expect(body.timingMs).toBeGreaterThan(0);
    expect(body.disclaimer).toBe(DISCLAIMER);
  });

  it('accepts an RGB PNG, a large JPEG and an upload over 1 MiB', async () => {
    const noise = await noisePng();
    expect(noise.length).toBeGreaterThan(1024 * 1024);
    for (const [image, name] of [
      [await rgbPng(), 'screenshot.png'],
      [await largeJpeg(), 'big.jpg'],
      [noise, 'noise.png'],
    ] as const) {
      const res = await diagnose(image, name);
      expect(res.status, name).toBe(200);
      expect(res.body.model.architecture).toBe('se-resnet18-gn');
    }
  });

  it('gives the same answer for the same image', async () => {
    const image = sampleJpeg('NORMAL');
    const a = await diagnose(image);
    const b = await diagnose(image);
    expect(a.body.probability).toBe(b.body.probability);
  });

  it.each([
    ['a zero-byte file', async () => Buffer.alloc(0), 400, 'empty'],
    [
      'random bytes',
      async () => Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)),
      400,
      'corrupt',
    ],
    [
      'a truncated JPEG',
      async () => sampleJpeg().subarray(0, Math.floor(sampleJpeg().length / 2)),
      400,
      'corrupt',
    ],
    ['a 10x10 PNG', () => tinyPng(10), 400, 'too-small'],
    ['a GIF', () => gif(), 415, 'unsupported-format'],
    ['a 100-megapixel PNG', () => hugePngHeader(), 413, 'too-large'],
  ])('refuses %s', async (_name, make, status, code) => {
    const res = await diagnose(await make(), 'upload.bin');
    expect(res.status).toBe(status);
    expect(res.body.error).toMatchObject({ code, requestId: res.headers['x-request-id'] });
    expect(res.body.error.message).toEqual(expect.any(String));
  });

  it('refuses an upload over MAX_UPLOAD_BYTES with 413 file-too-large', async () => {
    const big = Buffer.concat([sampleJpeg(), Buffer.alloc(MAX_UPLOAD_BYTES)]);
    const res = await diagnose(big);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('file-too-large');
    expect(res.body.error.details).toEqual({ maxBytes: MAX_UPLOAD_BYTES });
  });

  it('asks for the image field when it is missing', async () => {
    const wrongField = await diagnose(sampleJpeg(), 'xray.jpg', 'file');
    expect(wrongField.status).toBe(400);
    expect(wrongField.body.error.code).toBe('missing-image');
    expect(wrongField.body.error.message).toContain("'file'");

    const noFile = await request(served.app.server).post('/diagnose').field('image', 'not a file');
    expect(noFile.status).toBe(400);
    expect(noFile.body.error.code).toBe('missing-image');
  });

  it('refuses bodies that are not multipart with 415 not-multipart', async () => {
    const json = await request(served.app.server).post('/diagnose').send({ image: 'aGVsbG8=' });
    expect(json.status).toBe(415);
    expect(json.body.error.code).toBe('not-multipart');

    const raw = await request(served.app.server)
      .post('/diagnose')
      .set('content-type', 'image/jpeg')
      .send(sampleJpeg());
    expect(raw.status).toBe(415);
    expect(raw.body.error.code).toBe('not-multipart');

    const empty = await request(served.app.server).post('/diagnose');
    expect(empty.status).toBe(415);
    expect(empty.body.error.code).toBe('not-multipart');
  });

  it('refuses a malformed multipart body with 400', async () => {
    const res = await request(served.app.server)
      .post('/diagnose')
      .set('content-type', 'multipart/form-data; boundary=xyz')
      .send('--xyz\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\nabc');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid-multipart');

    const noBoundary = await request(served.app.server)
      .post('/diagnose')
      .set('content-type', 'multipart/form-data')
      .send('hello');
    expect(noBoundary.status).toBe(400);
    expect(noBoundary.body.error.code).toBe('invalid-multipart');
  });

  it('keeps tf.memory().numTensors flat over 20 requests', async () => {
    const image = sampleJpeg();
    await diagnose(image);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      const res = await diagnose(i % 5 === 4 ? Buffer.from('junk') : image);
      expect(res.status).toBe(i % 5 === 4 ? 400 : 200);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('model and readiness routes', () => {
  it('GET /models/current describes the directory model', async () => {
    const res = await request(served.app.server).get('/models/current');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^local-/),
      version: null,
      round: 2,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      architecture: 'se-resnet18-gn',
      width: 8,
      inputSize: 32,
      threshold: 0.5,
      modelThreshold: 0.5,
      thresholdSource: 'model',
      operatingPoint: null,
      thresholdRule: 'fixed:0.5',
      preprocessing: { inputSize: 32, normalization: 'per-image', equalize: false },
      members: 1,
      loadedAt: expect.any(String),
      source: 'directory',
      // onnxruntime-node is an optional dependency: either runtime may serve here.
      inferRuntime: expect.stringMatching(/^(onnxruntime|tfjs)/),
    });
    expect(res.body.id).toBe(`local-${res.body.sha256.slice(0, 12)}`);
  });

  it('GET /ready answers 200 with the model; GET /health answers', async () => {
    const ready = await request(served.app.server).get('/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({
      ready: true,
      model: { architecture: 'se-resnet18-gn' },
      inFlight: 0,
      maxConcurrentDiagnoses: 32,
    });
    const health = await request(served.app.server).get('/health');
    expect(health.body).toMatchObject({ status: 'ok', service: 'fedxray-inference-api' });
  });

  it('fails to start on a MODEL_DIR that is not a model', async () => {
    await expect(buildInferenceApp({ modelDir: served.dir, maxUploadBytes: 1000 })).rejects.toThrow(
      /MODEL_DIR .* cannot be loaded/,
    );
  });
});

describe('OpenAPI', () => {
  it('documents POST /diagnose as a multipart upload with a binary image field', async () => {
    const res = await request(served.app.server).get('/docs/json');
    expect(res.status).toBe(200);
    const post = res.body.paths['/diagnose'].post;
    const form = post.requestBody.content['multipart/form-data'];
    expect(form.schema.properties.image).toMatchObject({ type: 'string', format: 'binary' });
    expect(form.schema.required).toEqual(['image']);
    expect(Object.keys(post.requestBody.content)).toEqual(['multipart/form-data']);
    expect(Object.keys(post.responses)).toEqual(
      expect.arrayContaining(['200', '400', '413', '415', '503']),
    );
    expect(post.responses['503'].description).toMatch(/`no-model`.*`busy`/);
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining(['/diagnose', '/models/current', '/ready', '/health']),
    );
    expect((await request(served.app.server).get('/docs/')).status).toBe(200);
  });
});
