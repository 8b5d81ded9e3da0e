// ONNX export: onnxruntime on the exported graph against tfjs on the sample images, for every
// architecture at toy size, an ensemble, and the metadata read back from the file.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_DATA_DIR } from '../../shared/data/sample.ts';
import { decodeXray } from '../../shared/data/image.ts';
import { ARCHITECTURE_NAMES, buildModel } from '../../shared/model/architectures.ts';
import { loadPredictorDir, writeEnsembleDir } from '../../shared/model/ensemble.ts';
import { tf } from '../../shared/tf/tf.ts';
import { predictBatch } from '../../shared/training/predict.ts';
import {
  exportNetworksToOnnx,
  modelDirIdentity,
  modelDirOnnxInfo,
  readOnnxInfo,
  type OnnxModelInfo,
} from '../../shared/onnx/export.ts';
import { decodeModelSummary, ONNX_OPSET } from '../../shared/onnx/graph.ts';
import { explicitPads } from '../../shared/onnx/layer-ops.ts';
import { compareOnnx } from '../../shared/onnx/parity.ts';
import { createOnnxScorer, loadOnnxRuntime, type OrtModule } from '../../shared/onnx/runtime.ts';
import { writeTinyModelDir } from '../inference-api/fixtures.ts';
import { useTestBackend } from '../helpers/tiny.ts';

const SIZE = 32;
const SHIPPED = fileURLToPath(new URL('../../models/fl-se-resnet18-gn', import.meta.url));
let ort: OrtModule | undefined;
let skipReason = '';
let images: Float32Array;
let count = 0;
let root: string;

const info = (architecture: string): OnnxModelInfo => ({
  modelId: 'test-model',
  sha256: 'a'.repeat(64),
  architecture,
  width: 8,
  preprocessing: { inputSize: SIZE, normalization: 'per-image', equalize: false },
  threshold: { threshold: 0.42, rule: 'youden' },
});

/**
 * Trained-looking weights: the zero-initialised norm scales would hide every residual branch
 * and BatchNorm's initial statistics are the identity. Scales and variances stay positive.
 */
function perturb(model: tf.LayersModel, seed: number): void {
  tf.tidy(() => {
    model.weights.forEach((w, i) => {
      const v = w.read();
      const noise = tf.randomUniform(v.shape, -1, 1, 'float32', seed * 1000 + i);
      const name = w.originalName;
      if (/(gamma|moving_variance)$/.test(name)) w.write(tf.add(0.6, tf.mul(noise, 0.4)));
      else if (/(beta|moving_mean|bias)$/.test(name)) w.write(tf.mul(noise, 0.1));
      else w.write(tf.add(v, tf.mul(v, tf.mul(noise, 0.1))));
    });
  });
}

async function onnxProbabilities(
  bytes: Uint8Array,
  xs: Float32Array,
  n: number,
): Promise<Float32Array> {
  const scorer = await createOnnxScorer(ort as OrtModule, bytes, 1);
  try {
    return await scorer.score(xs, n, SIZE);
  } finally {
    await scorer.release();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

beforeAll(async () => {
  await useTestBackend();
  const load = await loadOnnxRuntime();
  if (load.ok) ort = load.ort;
  else skipReason = load.reason;
  const files: string[] = [];
  for (const label of ['NORMAL', 'PNEUMONIA']) {
    const dir = join(SAMPLE_DATA_DIR, label);
    for (const f of (await readdir(dir)).sort())
      if (/\.(jpe?g|png)$/i.test(f)) files.push(join(dir, f));
  }
  count = files.length;
  images = new Float32Array(count * SIZE * SIZE);
  for (const [i, f] of files.entries())
    images.set(await decodeXray(f, { size: SIZE, normalization: 'per-image' }), i * SIZE * SIZE);
  root = await mkdtemp(join(tmpdir(), 'fedxray-onnx-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('explicit pads', () => {
  it("reproduce TF's 'same' (the extra row at the end) and 'valid'", () => {
    expect(explicitPads('same', [32, 32], [7, 7], [2, 2])).toEqual([2, 2, 3, 3]);
    expect(explicitPads('same', [16, 16], [3, 3], [2, 2])).toEqual([0, 0, 1, 1]);
    expect(explicitPads('same', [15, 15], [3, 3], [1, 1])).toEqual([1, 1, 1, 1]);
    expect(explicitPads('same', [8, 8], [1, 1], [2, 2])).toEqual([0, 0, 0, 0]);
    expect(explicitPads('valid', [8, 8], [3, 3], [1, 1])).toEqual([0, 0, 0, 0]);
  });
});

describe('ONNX export', () => {
  for (const architecture of ARCHITECTURE_NAMES) {
    it(`${architecture}: onnxruntime matches tfjs within 1e-4 on the sample images`, async (ctx) => {
      if (!ort) return ctx.skip(skipReason);
      const model = buildModel(architecture, { inputSize: SIZE, width: 8, seed: 3 });
      try {
        perturb(model, 3);
        const bytes = exportNetworksToOnnx([model], info(architecture));
        const expected = predictBatch(model, images, count, SIZE);
        const actual = await onnxProbabilities(bytes, images, count);
        const diff = maxAbsDiff(expected, actual);
        console.log(
          `${architecture}: max |p_onnx - p_tfjs| = ${diff.toExponential(2)} over ${count} images`,
        );
        expect(diff).toBeLessThan(1e-4);
        // The probabilities are not all alike: a broken graph cannot pass by predicting a constant.
        expect(Math.max(...expected) - Math.min(...expected)).toBeGreaterThan(1e-3);
      } finally {
        model.dispose();
      }
    });
  }

  it('writes opset 17, NHWC input, [N, 2] output and the metadata, read back', () => {
    const model = buildModel('se-resnet18-gn', { inputSize: SIZE, width: 8 });
    try {
      const bytes = exportNetworksToOnnx([model], {
        ...info('se-resnet18-gn'),
        calibration: { method: 'temperature', temperature: 1.5 },
        tta: 'affine5',
      });
      const summary = decodeModelSummary(bytes);
      expect(summary.opsets).toEqual([{ domain: '', version: ONNX_OPSET }]);
      expect(ONNX_OPSET).toBeGreaterThanOrEqual(17);
      expect(summary.producerName).toBe('fedxray');
      expect(summary.inputs).toEqual([{ name: 'image', dims: ['N', SIZE, SIZE, 1] }]);
      expect(summary.outputs).toEqual([{ name: 'probabilities', dims: ['N', 2] }]);
      expect(summary.opTypes).toEqual(
        expect.arrayContaining([
          'Conv',
          'InstanceNormalization',
          'GlobalAveragePool',
          'Gemm',
          'Sigmoid',
          'Mul',
          'Softmax',
        ]),
      );
      expect(readOnnxInfo(bytes)).toEqual({
        ...info('se-resnet18-gn'),
        threshold: { threshold: 0.42, rule: 'youden' },
        calibration: { method: 'temperature', temperature: 1.5 },
        tta: 'affine5',
        members: 1,
        classes: ['NORMAL', 'PNEUMONIA'],
      });
    } finally {
      model.dispose();
    }
  });

  it('exports an ensemble directory as one graph averaging its members', async (ctx) => {
    if (!ort) return ctx.skip(skipReason);
    await writeTinyModelDir(join(root, 'a'), 1);
    await writeTinyModelDir(join(root, 'b'), 2);
    const dir = join(root, 'ens');
    await writeEnsembleDir(dir, [join(root, 'a'), join(root, 'b')]);
    const predictor = await loadPredictorDir(dir);
    try {
      predictor.networks.forEach((n, i) => perturb(n, 10 + i));
      const fileInfo = await modelDirOnnxInfo(dir);
      expect(fileInfo.modelId).toMatch(/^local-[0-9a-f]{12}$/);
      const bytes = exportNetworksToOnnx(predictor.networks, fileInfo);
      expect(readOnnxInfo(bytes)).toMatchObject({ members: 2, sha256: fileInfo.sha256 });
      expect(decodeModelSummary(bytes).opTypes).toContain('Mean');
      const expected = predictor.score(images, count, SIZE);
      const diff = maxAbsDiff(expected, await onnxProbabilities(bytes, images, count));
      console.log(`ensemble of 2: max |p_onnx - p_tfjs| = ${diff.toExponential(2)}`);
      expect(diff).toBeLessThan(1e-4);
    } finally {
      predictor.dispose();
    }
  });

  it('the shipped model matches tfjs within 1e-4 on 10 sample images', async (ctx) => {
    if (!ort) return ctx.skip(skipReason);
    const predictor = await loadPredictorDir(SHIPPED, { tta: 'none' });
    try {
      const fileInfo = await modelDirOnnxInfo(SHIPPED);
      expect(fileInfo).toMatchObject({ ...(await modelDirIdentity(SHIPPED)), width: 64 });
      const bytes = exportNetworksToOnnx(predictor.networks, fileInfo);
      expect(readOnnxInfo(bytes)).toMatchObject({
        members: predictor.networks.length,
        preprocessing: predictor.metadata.preprocessing,
      });
      const size = fileInfo.preprocessing.inputSize;
      const files: string[] = [];
      for (const label of ['NORMAL', 'PNEUMONIA']) {
        const dir = join(SAMPLE_DATA_DIR, label);
        files.push(
          ...(await readdir(dir))
            .filter((f) => /\.jpe?g$/i.test(f))
            .sort()
            .slice(0, 5)
            .map((f) => join(dir, f)),
        );
      }
      const pixels = new Float32Array(files.length * size * size);
      for (const [i, f] of files.entries())
        pixels.set(
          await decodeXray(f, { size, normalization: fileInfo.preprocessing.normalization }),
          i * size * size,
        );
      const parity = await compareOnnx(
        ort as OrtModule,
        bytes,
        predictor.score,
        { pixels, count: files.length },
        size,
      );
      console.log(
        `shipped model: max |p_onnx - p_tfjs| = ${parity.maxAbsDiff.toExponential(2)} over ${parity.images} images`,
      );
      expect(parity.images).toBe(10);
      expect(parity.maxAbsDiff).toBeLessThan(1e-4);
    } finally {
      predictor.dispose();
    }
  });
});
