/**
 * A training step of the project's kind of model (conv, norm, pooling, squeeze-excitation gate,
 * dropout, dense softmax, L2) must run on wasm: every gradient kernel it needs must exist, and
 * the gradients must equal the cpu backend's.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../shared/tf/tf.ts';
import { initBackend } from '../../shared/tf/backend.ts';
import { createRng } from '../../shared/util/random.ts';

const SIZE = 16;
const CLASSES = 2;

function convNet(seed: number, dropout: number): tf.LayersModel {
  const init = (offset: number) => tf.initializers.glorotUniform({ seed: seed + offset });
  const input = tf.input({ shape: [SIZE, SIZE, 1] });
  let x = tf.layers
    .conv2d({
      filters: 8,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      useBias: false,
      kernelInitializer: init(1),
    })
    .apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization().apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU().apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' })
    .apply(x) as tf.SymbolicTensor;
  const shortcut = tf.layers
    .conv2d({ filters: 16, kernelSize: 1, strides: 2, padding: 'same', kernelInitializer: init(2) })
    .apply(x) as tf.SymbolicTensor;
  // Bias + relu: layers run this as a fused conv2d, whose gradient has its own path.
  x = tf.layers
    .conv2d({
      filters: 16,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: init(3),
      kernelRegularizer: tf.regularizers.l2({ l2: 1e-3 }),
    })
    .apply(x) as tf.SymbolicTensor;
  // Squeeze-and-excitation gate.
  const squeeze = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const hidden = tf.layers
    .dense({ units: 4, activation: 'relu', kernelInitializer: init(4) })
    .apply(squeeze);
  const gate = tf.layers
    .dense({ units: 16, activation: 'sigmoid', kernelInitializer: init(5) })
    .apply(hidden as tf.SymbolicTensor) as tf.SymbolicTensor;
  const gate4d = tf.layers.reshape({ targetShape: [1, 1, 16] }).apply(gate) as tf.SymbolicTensor;
  x = tf.layers.multiply().apply([x, gate4d]) as tf.SymbolicTensor;
  x = tf.layers.add().apply([x, shortcut]) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: dropout, seed }).apply(x) as tf.SymbolicTensor;
  const output = tf.layers
    .dense({ units: CLASSES, activation: 'softmax', kernelInitializer: init(6) })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output });
}

function batch(n: number, seed: number): { xs: tf.Tensor4D; ys: tf.Tensor2D } {
  const rng = createRng(seed);
  const xs = tf.tensor4d(
    Float32Array.from({ length: n * SIZE * SIZE }, () => rng.normal()),
    [n, SIZE, SIZE, 1],
  );
  const labels = Array.from({ length: n }, (_, i) => i % CLASSES);
  return { xs, ys: tf.oneHot(tf.tensor1d(labels, 'int32'), CLASSES).toFloat() as tf.Tensor2D };
}

/** GroupNorm as the project writes it: moments over [H, W, C/G] per sample and group. */
function groupNorm(x: tf.Tensor4D, groups: number, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const grouped = tf.reshape(x, [n, h, w, groups, c / groups]);
  const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
  const normalised = tf.mul(tf.sub(grouped, mean), tf.rsqrt(tf.add(variance, 1e-5)));
  return tf.add(tf.mul(tf.reshape(normalised, [n, h, w, c]), gamma), beta) as tf.Tensor4D;
}

function weightsSnapshot(model: tf.LayersModel): Float32Array[] {
  return model
    .getWeights()
    .map((w) => w.dataSync() as Float32Array)
    .map((a) => a.slice());
}

describe('training on wasm', () => {
  beforeAll(async () => {
    process.env.FEDXRAY_QUIET = '1';
    const info = await initBackend({ preferred: 'wasm' });
    expect(info.name).toBe('wasm');
  });

  it.each([
    ['adam', (): tf.Optimizer => tf.train.adam(1e-3)],
    ['sgd momentum', (): tf.Optimizer => tf.train.momentum(1e-2, 0.9)],
  ])('model.fit runs two steps with %s', async (_, optimizer) => {
    const model = convNet(1, 0.3);
    model.compile({ optimizer: optimizer(), loss: 'categoricalCrossentropy' });
    const { xs, ys } = batch(8, 3);
    const before = weightsSnapshot(model);
    const history = await model.fit(xs, ys, {
      batchSize: 4,
      epochs: 1,
      shuffle: false,
      verbose: 0,
    });
    const loss = history.history.loss[0] as number;
    expect(Number.isFinite(loss)).toBe(true);
    const after = weightsSnapshot(model);
    const changed = after.filter((w, i) => w.some((v, j) => v !== before[i][j])).length;
    // Every trainable weight moves (BatchNorm's moving statistics are updated as well).
    expect(changed).toBe(after.length);
    tf.dispose([xs, ys]);
    model.dispose();
  });

  it('optimizer.minimize of a GroupNorm conv net matches the cpu gradients', async () => {
    const rng = createRng(9);
    const values = (shape: number[]): Float32Array =>
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * 0.3);
    const shapes = {
      w1: [3, 3, 1, 8],
      b1: [8],
      gamma: [8],
      beta: [8],
      w2: [3, 3, 8, 8],
      dense: [8, CLASSES],
    };
    const init = Object.fromEntries(
      Object.entries(shapes).map(([k, s]) => [k, values(s)]),
    ) as Record<keyof typeof shapes, Float32Array>;
    const { xs, ys } = batch(4, 5);
    const xsData = xs.dataSync().slice();
    const ysData = ys.dataSync().slice();
    tf.dispose([xs, ys]);

    const step = async (
      backend: string,
      optimizer: tf.Optimizer,
    ): Promise<Record<string, Float32Array>> => {
      await tf.setBackend(backend);
      const vars = Object.fromEntries(
        Object.entries(shapes).map(([k, s]) => [
          k,
          tf.variable(tf.tensor(init[k as keyof typeof shapes], s), true, `${backend}_${k}`),
        ]),
      ) as Record<keyof typeof shapes, tf.Variable>;
      const x = tf.tensor4d(xsData, [4, SIZE, SIZE, 1]);
      const y = tf.tensor2d(ysData, [4, CLASSES]);
      const loss = (): tf.Scalar => {
        let h = tf.fused.conv2d({
          x,
          filter: vars.w1 as tf.Tensor4D,
          strides: 2,
          pad: 'same',
          bias: vars.b1,
          activation: 'relu',
        });
        h = tf.maxPool(h, 3, 2, 'same');
        h = groupNorm(h, 4, vars.gamma, vars.beta);
        h = tf.relu(tf.conv2d(h, vars.w2 as tf.Tensor4D, 1, 'same'));
        const gate = tf.sigmoid(tf.mean(h, [1, 2], true));
        const pooled = tf.mean(tf.mul(h, gate), [1, 2]) as tf.Tensor2D;
        const probs = tf.softmax(tf.matMul(pooled, vars.dense as tf.Tensor2D));
        const ce = tf.losses.softmaxCrossEntropy(y, tf.log(probs)) as tf.Scalar;
        return tf.add(ce, tf.mul(1e-3, tf.sum(tf.square(vars.w2)))) as tf.Scalar;
      };
      for (let i = 0; i < 2; i++) optimizer.minimize(loss, true)?.dispose();
      const out = Object.fromEntries(
        Object.entries(vars).map(([k, v]) => [k, v.dataSync().slice() as Float32Array]),
      );
      tf.dispose([...Object.values(vars), x, y]);
      optimizer.dispose();
      return out;
    };
    for (const make of [
      (): tf.Optimizer => tf.train.adam(1e-2),
      (): tf.Optimizer => tf.train.momentum(1e-1, 0.9),
    ]) {
      const cpu = await step('cpu', make());
      const wasm = await step('wasm', make());
      for (const k of Object.keys(shapes)) {
        const a = wasm[k];
        const b = cpu[k];
        const err = Math.max(...a.map((v, i) => Math.abs(v - b[i])));
        const scale = Math.max(...b.map(Math.abs));
        expect(err / scale, k).toBeLessThan(1e-3);
        // Both steps moved the weights.
        expect(
          a.some((v, i) => v !== init[k as keyof typeof shapes][i]),
          k,
        ).toBe(true);
      }
    }
  });
});
