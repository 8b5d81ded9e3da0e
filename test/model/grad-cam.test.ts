import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel } from '../../shared/model/architectures.ts';
import {
  ensembleGradCam,
  gradCamExplainer,
  GradCamUnsupportedError,
  lastConvStage,
} from '../../shared/model/grad-cam.ts';
import { renderHeatmapPng, upsampleBilinear } from '../../shared/model/heatmap-png.ts';
import { tf } from '../../shared/tf/tf.ts';
import { createRng } from '../../shared/util/random.ts';
import { useTestBackend } from '../helpers/tiny.ts';

const SIZE = 32;
const MARKER = 4;

beforeAll(async () => {
  await useTestBackend();
});

function noiseImage(seed: number, size = SIZE): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: size * size }, () => rng.normal());
}

/** Pearson correlation of two equally long arrays. */
function correlation(a: Float32Array, b: Float32Array): number {
  const mean = (v: Float32Array) => v.reduce((s, x) => s + x, 0) / v.length;
  const [ma, mb] = [mean(a), mean(b)];
  let [sab, saa, sbb] = [0, 0, 0];
  for (let i = 0; i < a.length; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

describe('Grad-CAM on the fedxray architectures', () => {
  it('explains the last conv stage of each architecture', () => {
    const cases = [
      ['se-resnet18-gn', 64, 'stage4_block2_out', 2],
      ['resnet18', 64, 'stage4_block2_out', 2],
      ['alexnet', 32, 'relu5', 4],
      ['vgg16', 32, 'block5_relu3', 2],
    ] as const;
    for (const [architecture, inputSize, layer, side] of cases) {
      const model = buildModel(architecture, { inputSize, width: 4 });
      try {
        expect(lastConvStage(model)).toBe(layer);
        const result = gradCamExplainer(model).explain(noiseImage(1, inputSize), inputSize);
        expect(result).toMatchObject({ layer, height: side, width: side });
        expect(result.map).toHaveLength(side * side);
        expect(Math.min(...result.map)).toBeGreaterThanOrEqual(0);
        expect(Math.max(...result.map)).toBeLessThanOrEqual(1);
        expect(Math.min(...result.raw)).toBeGreaterThanOrEqual(0); // after the ReLU
      } finally {
        model.dispose();
      }
    }
  });

  it('refuses a model whose head is not a chain to a 2-class dense layer', () => {
    const input = tf.input({ shape: [8, 8, 1] });
    const conv = tf.layers.conv2d({ filters: 2, kernelSize: 3 }).apply(input) as tf.SymbolicTensor;
    const pool = tf.layers.globalAveragePooling2d({}).apply(conv) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 3, activation: 'softmax' }).apply(pool);
    const model = tf.model({ inputs: input, outputs: out as tf.SymbolicTensor });
    expect(() => gradCamExplainer(model)).toThrow(GradCamUnsupportedError);
    model.dispose();
  });

  it('is deterministic and keeps the tensor count flat', async () => {
    const model = buildModel('se-resnet18-gn', { inputSize: 64, width: 4 });
    const explainer = gradCamExplainer(model);
    const image = noiseImage(2, 64);
    const backdrop = { data: new Uint8Array(80 * 70).fill(128), width: 80, height: 70 };
    const first = await renderHeatmapPng(backdrop, explainer.explain(image, 64));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) explainer.explain(image, 64);
    expect(tf.memory().numTensors).toBe(before);
    const second = await renderHeatmapPng(backdrop, explainer.explain(image, 64));
    expect(second.equals(first)).toBe(true);
    const meta = await sharp(first).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 80, height: 70 });
    model.dispose();
  });

  it("averages an ensemble's normalised maps", () => {
    const members = [1, 2].map((seed) => buildModel('alexnet', { inputSize: 32, width: 4, seed }));
    const explainers = members.map((m) => gradCamExplainer(m));
    const image = noiseImage(3);
    const [a, b] = explainers.map((e) => e.explain(image, SIZE));
    const mean = ensembleGradCam(explainers, image, SIZE);
    expect(mean.layer).toBe('relu5');
    for (let i = 0; i < mean.map.length; i++) {
      expect(mean.map[i]).toBeCloseTo((a.map[i] + b.map[i]) / 2, 6);
    }
    for (const m of members) m.dispose();
  });
});

describe('upsampling', () => {
  it('keeps a constant map constant and a cell centre at its value', () => {
    const map = Float32Array.from([0, 1, 0.5, 0.25]);
    const up = upsampleBilinear({ map, width: 2, height: 2 }, 8, 6);
    expect(up).toHaveLength(48);
    expect(up[0]).toBeCloseTo(0, 6); // top-left corner clamps to the first cell
    expect(up[7]).toBeCloseTo(1, 6);
    expect(up[47]).toBeCloseTo(0.25, 6);
    const flat = upsampleBilinear(
      { map: new Float32Array(4).fill(0.3), width: 2, height: 2 },
      5,
      7,
    );
    for (const v of flat) expect(v).toBeCloseTo(0.3, 6);
  });
});

/**
 * A small CNN that keeps a 16 x 16 last conv stage at 32 px (a ResNet-18 at 32 px has 1 x 1),
 * trained to say whether a bright square is in the image: the sanity checks need a model that
 * learnt something, and a fine enough map to tell where.
 */
function markerNet(seed: number): tf.LayersModel {
  const init = (k: number) => tf.initializers.heNormal({ seed: seed * 100 + k });
  const input = tf.input({ shape: [SIZE, SIZE, 1], name: 'image' });
  let x = tf.layers
    .conv2d({
      name: 'conv1',
      filters: 8,
      kernelSize: 3,
      padding: 'same',
      kernelInitializer: init(1),
    })
    .apply(input) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: 'relu1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .conv2d({
      name: 'conv2',
      filters: 16,
      kernelSize: 3,
      padding: 'same',
      kernelInitializer: init(2),
    })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: 'relu2' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({ name: 'head', units: 2, activation: 'softmax', kernelInitializer: 'glorotUniform' })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

interface MarkerImage {
  pixels: Float32Array;
  /** Top-left corner of the marker, or null for class 0. */
  at: { x: number; y: number } | null;
}

function markerImage(rng: ReturnType<typeof createRng>, withMarker: boolean): MarkerImage {
  const pixels = Float32Array.from({ length: SIZE * SIZE }, () => rng.uniform(0, 0.3));
  if (!withMarker) return { pixels, at: null };
  const at = { x: 2 + rng.int(SIZE - MARKER - 4), y: 2 + rng.int(SIZE - MARKER - 4) };
  for (let y = at.y; y < at.y + MARKER; y++)
    for (let x = at.x; x < at.x + MARKER; x++) pixels[y * SIZE + x] = 1;
  return { pixels, at };
}

async function trainMarkerNet(): Promise<tf.LayersModel> {
  const rng = createRng(7);
  const count = 256;
  const images = Array.from({ length: count }, (_, i) => markerImage(rng, i % 2 === 1));
  const xs = tf.tensor4d(Float32Array.from(images.flatMap((m) => Array.from(m.pixels))), [
    count,
    SIZE,
    SIZE,
    1,
  ]);
  const ys = tf.oneHot(
    tf.tensor1d(
      images.map((m) => (m.at ? 1 : 0)),
      'int32',
    ),
    2,
  );
  const model = markerNet(1);
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
  await model.fit(xs, ys, { epochs: 3, batchSize: 16, shuffle: false, verbose: 0 });
  tf.dispose([xs, ys]);
  return model;
}

describe('Grad-CAM sanity checks on a model trained to find a marker', () => {
  let model: tf.LayersModel;
  const tests = (() => {
    const rng = createRng(99);
    return Array.from({ length: 10 }, () => markerImage(rng, true));
  })();

  beforeAll(async () => {
    model = await trainMarkerNet();
  }, 120_000);

  it('learnt the task', () => {
    const rng = createRng(5);
    const negatives = Array.from({ length: 10 }, () => markerImage(rng, false));
    const p = (m: MarkerImage) =>
      tf.tidy(
        () => (model.predict(tf.tensor4d(m.pixels, [1, SIZE, SIZE, 1])) as tf.Tensor).dataSync()[1],
      );
    expect(tests.filter((m) => p(m) > 0.5).length).toBeGreaterThanOrEqual(9);
    expect(negatives.filter((m) => p(m) < 0.5).length).toBeGreaterThanOrEqual(9);
  });

  it('peaks on or within 3 pixels of the marker in at least 8 of 10 images', () => {
    const explainer = gradCamExplainer(model);
    expect(explainer.layer).toBe('relu2');
    let hits = 0;
    for (const { pixels, at } of tests) {
      const cam = explainer.explain(pixels, SIZE);
      const up = upsampleBilinear(cam, SIZE, SIZE);
      const peak = up.indexOf(Math.max(...up));
      const [px, py] = [peak % SIZE, Math.floor(peak / SIZE)];
      const dx = Math.max(at!.x - px, px - (at!.x + MARKER - 1), 0);
      const dy = Math.max(at!.y - py, py - (at!.y + MARKER - 1), 0);
      if (Math.max(dx, dy) <= 3) hits++;
    }
    expect(hits).toBeGreaterThanOrEqual(8);
  });

  it('changes substantially when the top layers are randomised (Adebayo et al. 2018)', () => {
    // Cascading randomisation from the logits down through the last conv stage: the map must
    // follow what the model learnt, not only the image (a bright square lights up any filter).
    const explainer = gradCamExplainer(model);
    const originals = tests.map((m) => explainer.explain(m.pixels, SIZE).raw);
    const restore = randomiseLayers(model, ['head', 'conv2'], 11);
    const randomised = tests.map((m) => explainer.explain(m.pixels, SIZE).raw);
    restore();
    const correlations = originals.map((o, i) => correlation(o, randomised[i]));
    // A map the ReLU empties has no correlation: it counts as 0, i.e. changed.
    const mean = correlations.reduce((s, c) => s + (Number.isFinite(c) ? c : 0), 0) / 10;
    expect(mean).toBeLessThan(0.5);
    // Restored: the same maps as before.
    expect(explainer.explain(tests[0].pixels, SIZE).raw).toEqual(originals[0]);
  });
});

/** Draws the layers' weights afresh (He-scaled kernels, small biases); returns the undo. */
function randomiseLayers(model: tf.LayersModel, names: string[], seed: number): () => void {
  const layers = names.map((n) => model.getLayer(n));
  const saved = layers.map((l) => l.getWeights().map((w) => w.clone()));
  tf.tidy(() =>
    layers.forEach((layer, j) =>
      layer.setWeights(
        saved[j].map((w, i) => {
          const fanIn = w.shape.slice(0, -1).reduce((a, b) => a * b, 1);
          const std = w.rank > 1 ? Math.sqrt(2 / fanIn) : 0.05;
          return tf.randomNormal(w.shape, 0, std, 'float32', seed + 10 * j + i);
        }),
      ),
    ),
  );
  return () => {
    layers.forEach((layer, j) => layer.setWeights(saved[j]));
    tf.dispose(saved.flat());
  };
}
