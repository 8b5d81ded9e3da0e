// The inference API on onnxruntime-node: what /info and /models/current say, the same
// probabilities as tfjs, the fallback to tfjs when the runtime is absent or broken, and a
// flat tensor count.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type AppDeps, type InferenceApp } from '../../services/inference-api/app.ts';
import { readInferenceConfig, type InferenceConfig } from '../../services/inference-api/config.ts';
import { decodeXray } from '../../shared/data/image.ts';
import { writeEnsembleDir } from '../../shared/model/ensemble.ts';
import {
  exportNetworksToOnnx,
  modelDirIdentity,
  modelDirOnnxInfo,
  ONNX_FILE,
} from '../../shared/onnx/export.ts';
import { loadOnnxRuntime, type OrtLoad, type OrtModule } from '../../shared/onnx/runtime.ts';
import { tf } from '../../shared/tf/tf.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import {
  sampleJpeg,
  startFakeAggregator,
  TINY_PREPROCESSING,
  writeTinyModelDir,
} from './fixtures.ts';

let dir: string;
let available: OrtLoad;
const apps: InferenceApp[] = [];

async function start(
  config: Partial<InferenceConfig> = {},
  deps: AppDeps = {},
  modelDir = join(dir, 'tiny'),
): Promise<InferenceApp> {
  const app = await buildApp(
    {
      port: 0,
      host: '127.0.0.1',
      modelDir,
      modelPollSeconds: 0,
      maxUploadBytes: 2 * 1024 * 1024,
      ...config,
    },
    { logger: false, ...deps },
  );
  await app.ready();
  apps.push(app);
  return app;
}

async function diagnose(app: InferenceApp, image: Buffer, query = ''): Promise<request.Response> {
  return request(app.server).post(`/diagnose${query}`).attach('image', image, 'x.jpg');
}

beforeAll(async () => {
  await useTestBackend();
  available = await loadOnnxRuntime();
  dir = await mkdtemp(join(tmpdir(), 'fedxray-inference-onnx-'));
  await writeTinyModelDir(join(dir, 'tiny'), 1);
  await writeTinyModelDir(join(dir, 'm2'), 2);
  await writeEnsembleDir(join(dir, 'ensemble'), [join(dir, 'tiny'), join(dir, 'm2')]);
});

afterAll(async () => {
  for (const app of apps) await app.close();
  await rm(dir, { recursive: true, force: true });
});

describe('onnxruntime-node installed', () => {
  it('serves /diagnose, says so in /info and /models/current, and matches tfjs', async (ctx) => {
    if (!available.ok) return ctx.skip(available.reason);
    const onnx = await start({ onnxThreads: 2 });
    const tfjs = await start({ inferRuntime: 'tfjs' });
    const info = await request(onnx.server).get('/info');
    expect(info.body).toMatchObject({
      inferRuntime: 'onnxruntime',
      inferRuntimeReason: null,
      onnxThreads: 2,
    });
    expect((await request(onnx.server).get('/models/current')).body.inferRuntime).toBe(
      'onnxruntime',
    );
    expect((await request(tfjs.server).get('/info')).body).toMatchObject({
      inferRuntime: 'tfjs-wasm',
      inferRuntimeReason: 'INFER_RUNTIME=tfjs',
    });
    for (const label of ['NORMAL', 'PNEUMONIA'] as const) {
      const image = sampleJpeg(label);
      const [a, b] = await Promise.all([diagnose(onnx, image), diagnose(tfjs, image)]);
      expect(a.status).toBe(200);
      expect(Math.abs(a.body.probability - b.body.probability)).toBeLessThan(1e-4);
      expect(a.body.label).toBe(b.body.label);
      // And against the model's own tfjs networks on the same decoded pixels.
      const pixels = await decodeXray(image, { size: 32, ...TINY_PREPROCESSING });
      const [expected] = onnx.models.current!.score(pixels, 1, 32);
      expect(Math.abs(a.body.probability - expected)).toBeLessThan(1e-4);
    }
  });

  it('keeps tf.memory().numTensors flat over repeated diagnoses and explanations', async (ctx) => {
    if (!available.ok) return ctx.skip(available.reason);
    const app = await start();
    const image = sampleJpeg('PNEUMONIA');
    expect((await diagnose(app, image)).status).toBe(200);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) expect((await diagnose(app, image)).status).toBe(200);
    const explained = await diagnose(app, image, '?explain=true');
    expect(explained.status).toBe(200);
    expect(explained.body.explanation.method).toBe('grad-cam');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('serves an ensemble as one graph, with the mean of its members', async (ctx) => {
    if (!available.ok) return ctx.skip(available.reason);
    const app = await start({}, {}, join(dir, 'ensemble'));
    const current = (await request(app.server).get('/models/current')).body;
    const identity = await modelDirIdentity(join(dir, 'ensemble'));
    expect(current).toMatchObject({
      members: 2,
      inferRuntime: 'onnxruntime',
      id: identity.modelId,
      sha256: identity.sha256,
    });
    const image = sampleJpeg('NORMAL');
    const pixels = await decodeXray(image, { size: 32, ...TINY_PREPROCESSING });
    const [expected] = app.models.current!.score(pixels, 1, 32);
    const res = await diagnose(app, image);
    expect(Math.abs(res.body.probability - expected)).toBeLessThan(1e-4);
  });
});

describe('a model.onnx beside model.json', () => {
  it('is opened when it is the export of these weights, else exported anew', async (ctx) => {
    if (!available.ok) return ctx.skip(available.reason);
    const modelDir = join(dir, 'with-onnx');
    await writeTinyModelDir(modelDir, 4);
    const lines: string[] = [];
    const logger = { level: 'info', stream: { write: (line: string) => void lines.push(line) } };
    const first = await start({}, { logger }, modelDir);
    const info = await modelDirOnnxInfo(modelDir);
    const bytes = exportNetworksToOnnx(first.models.current!.networks, info);
    await writeFile(join(modelDir, ONNX_FILE), bytes);
    expect(lines.join('')).not.toMatch(/model\.onnx of MODEL_DIR/);

    const fromFile = await start({}, { logger }, modelDir);
    expect(fromFile.models.current!.info.inferRuntime).toBe('onnxruntime');
    expect(lines.join('')).toMatch(/onnxruntime opens the model\.onnx of MODEL_DIR/);
    expect((await diagnose(fromFile, sampleJpeg())).status).toBe(200);

    await writeFile(
      join(modelDir, ONNX_FILE),
      exportNetworksToOnnx(first.models.current!.networks, { ...info, sha256: 'b'.repeat(64) }),
    );
    lines.length = 0;
    const stale = await start({}, { logger }, modelDir);
    expect(stale.models.current!.info.inferRuntime).toBe('onnxruntime');
    expect(lines.join('')).toMatch(/model\.onnx is of other weights: exporting anew/);
  });
});

describe('test-time augmentation on onnxruntime', () => {
  it('scores the mean over the variants, like tfjs', async (ctx) => {
    if (!available.ok) return ctx.skip(available.reason);
    await writeEnsembleDir(join(dir, 'tta'), [join(dir, 'tiny'), join(dir, 'm2')], {
      tta: 'affine5',
    });
    const app = await start({}, {}, join(dir, 'tta'));
    expect(app.models.current!.info.inferRuntime).toBe('onnxruntime');
    const image = sampleJpeg('PNEUMONIA');
    const pixels = await decodeXray(image, { size: 32, ...TINY_PREPROCESSING });
    const [expected] = app.models.current!.score(pixels, 1, 32);
    const [actual] = await app.models.current!.predict(pixels, 1, 32);
    expect(Math.abs(actual - expected)).toBeLessThan(1e-4);
    expect((await diagnose(app, image)).status).toBe(200);
  });
});

describe('the fallback to tfjs', () => {
  const absent = async (): Promise<OrtLoad> => ({
    ok: false,
    reason: 'onnxruntime-node is not installed',
  });

  it('serves with tfjs when onnxruntime-node is absent, and /info says why', async () => {
    const app = await start({}, { loadOnnxRuntime: absent });
    expect((await request(app.server).get('/info')).body).toMatchObject({
      inferRuntime: 'tfjs-wasm',
      inferRuntimeReason: 'onnxruntime-node is not installed',
    });
    expect((await request(app.server).get('/models/current')).body.inferRuntime).toBe('tfjs-wasm');
    expect((await diagnose(app, sampleJpeg())).status).toBe(200);
  });

  it('serves with tfjs when onnxruntime cannot open the model', async () => {
    const broken: OrtModule = {
      InferenceSession: {
        create: async () => {
          throw new Error('simulated session failure');
        },
      },
      Tensor: class {
        readonly data: unknown = null;
        readonly dims: readonly number[] = [];
      },
    };
    const app = await start(
      {},
      { loadOnnxRuntime: async () => ({ ok: true, ort: broken, version: 'x' }) },
    );
    const info = (await request(app.server).get('/info')).body;
    expect(info.inferRuntime).toBe('tfjs-wasm');
    expect(info.inferRuntimeReason).toMatch(
      /onnxruntime failed on this model: simulated session failure/,
    );
    expect((await diagnose(app, sampleJpeg())).status).toBe(200);
  });

  it('says so in /info before any model is loaded', async () => {
    const aggregator = await startFakeAggregator();
    try {
      // modelDir: undefined in the config wins over start()'s default directory.
      const app = await start(
        { modelDir: undefined, aggregatorUrl: aggregator.url },
        { loadOnnxRuntime: absent },
      );
      expect((await request(app.server).get('/info')).body).toMatchObject({
        model: null,
        inferRuntime: 'tfjs-wasm',
        inferRuntimeReason: 'onnxruntime-node is not installed',
      });
    } finally {
      await aggregator.close();
    }
  });

  it('refuses to start with INFER_RUNTIME=onnxruntime when it is absent', async () => {
    await expect(
      start({ inferRuntime: 'onnxruntime' }, { loadOnnxRuntime: absent }),
    ).rejects.toThrow(/INFER_RUNTIME=onnxruntime: onnxruntime-node is not installed/);
  });
});

describe('INFER_RUNTIME and ONNX_THREADS', () => {
  it('are read from the environment, and bad values are named', () => {
    const base = { AGGREGATOR_URL: 'http://127.0.0.1:3000' };
    expect(
      readInferenceConfig({ ...base, INFER_RUNTIME: 'tfjs', ONNX_THREADS: '2' }),
    ).toMatchObject({ inferRuntime: 'tfjs', onnxThreads: 2 });
    expect(readInferenceConfig(base)).not.toHaveProperty('inferRuntime');
    expect(() => readInferenceConfig({ ...base, INFER_RUNTIME: 'gpu' })).toThrow(/INFER_RUNTIME/);
    expect(() => readInferenceConfig({ ...base, ONNX_THREADS: '0' })).toThrow(/ONNX_THREADS/);
    expect(() => readInferenceConfig({ ...base, ONNX_THREADS: '1.5' })).toThrow(/ONNX_THREADS/);
  });
});
