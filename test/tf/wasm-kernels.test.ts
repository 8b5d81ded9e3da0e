import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../shared/tf/tf.ts';
import { initBackend } from '../../shared/tf/backend.ts';
import { makeConv2dBackpropFilter } from '../../shared/tf/wasm-kernels/conv2d-backprop-filter.ts';
import { makeConv2dBackpropInput } from '../../shared/tf/wasm-kernels/conv2d-backprop-input.ts';
import { planAxisPhases } from '../../shared/tf/wasm-kernels/input-grad-phases.ts';
import { getOriginalWasmKernel } from '../../shared/tf/wasm-kernels/register.ts';
import { createRng } from '../../shared/util/random.ts';

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | number | [[0, 0], [number, number], [number, number], [0, 0]];

interface Case {
  x: Shape4;
  k: number | [number, number];
  co: number;
  strides: number | [number, number];
  pad: Pad;
}

interface ConvResult {
  y: Float32Array;
  dx: Float32Array;
  dw: Float32Array;
}

const rng = createRng(42);
const normal = (size: number): Float32Array =>
  Float32Array.from({ length: size }, () => rng.normal());
const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** y = conv2d(x, w), and the gradients of sum(y * r) (r random, so every dy entry differs). */
async function convAndGrads(
  backend: string,
  c: Case,
  data: Record<'x' | 'w' | 'r', Float32Array>,
): Promise<ConvResult> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const [kh, kw] = typeof c.k === 'number' ? [c.k, c.k] : c.k;
    const x = tf.tensor4d(data.x, c.x);
    const w = tf.tensor4d(data.w, [kh, kw, c.x[3], c.co]);
    const conv = (a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D => tf.conv2d(a, b, c.strides, c.pad);
    const y = conv(x, w);
    const r = tf.tensor(data.r.subarray(0, y.size), y.shape);
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      conv(a as tf.Tensor4D, b as tf.Tensor4D)
        .mul(r)
        .sum(),
    )([x, w]);
    return {
      y: y.dataSync() as Float32Array,
      dx: dx.dataSync() as Float32Array,
      dw: dw.dataSync() as Float32Array,
    };
  });
}

/** dx or dW of sum(conv2d(x, w) * r) by one forced composition, calling the kernel directly. */
function forcedGrad(
  c: Case,
  data: Record<'x' | 'w' | 'r', Float32Array>,
  which: 'dx' | 'dw',
  strategy: 'gemm' | 'other',
): Float32Array {
  const [kh, kw] = typeof c.k === 'number' ? [c.k, c.k] : c.k;
  const backend = tf.backend();
  return tf.tidy(() => {
    const x = tf.tensor4d(data.x, c.x);
    const filter = tf.tensor4d(data.w, [kh, kw, c.x[3], c.co]);
    const outShape = tf.conv2d(x, filter, c.strides, c.pad).shape;
    const dy = tf.tensor(data.r.subarray(0, size(outShape)), outShape);
    const common = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC' };
    const out =
      which === 'dx'
        ? makeConv2dBackpropInput(
            undefined,
            strategy === 'gemm' ? 'gemm' : 'phases',
          )({
            inputs: { dy, filter },
            backend,
            attrs: { ...common, inputShape: c.x },
          })
        : makeConv2dBackpropFilter(strategy === 'gemm' ? 'gemm' : 'conv')({
            inputs: { x, dy },
            backend,
            attrs: { ...common, filterShape: filter.shape },
          });
    if (Array.isArray(out)) throw new Error('one output expected');
    const values = (backend.readSync(out.dataId) as Float32Array).slice();
    backend.disposeData(out.dataId);
    return values;
  });
}

/** max |a - b| relative to max |b|. */
function relError(actual: Float32Array, expected: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  let scale = 0;
  let err = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]));
    err = Math.max(err, Math.abs(actual[i] - expected[i]));
  }
  return err / Math.max(scale, 1e-6);
}

function caseName(c: Case): string {
  return `x${c.x.join('x')} k${c.k} co${c.co} s${c.strides} pad ${JSON.stringify(c.pad)}`;
}

function grid(): Case[] {
  const cases: Case[] = [];
  for (const k of [1, 3, 5, 7]) {
    for (const strides of [1, 2]) {
      for (const pad of ['same', 'valid'] as const) {
        for (const hw of [7, 8]) cases.push({ x: [2, hw, hw, 3], k, co: 5, strides, pad });
      }
    }
  }
  cases.push(
    // Non-square inputs, filters and strides; stride 3; explicit padding.
    { x: [2, 9, 6, 4], k: [3, 1], co: 3, strides: [2, 1], pad: 'same' },
    { x: [3, 10, 7, 2], k: [2, 4], co: 6, strides: [1, 2], pad: 'valid' },
    { x: [2, 11, 11, 3], k: 3, co: 4, strides: 3, pad: 'same' },
    { x: [2, 11, 10, 3], k: 5, co: 4, strides: 3, pad: 'valid' },
    { x: [2, 8, 8, 3], k: 3, co: 4, strides: 2, pad: 1 },
    { x: [2, 7, 7, 3], k: 1, co: 4, strides: 1, pad: 2 }, // padding wider than the filter
    {
      x: [2, 7, 9, 3],
      k: 3,
      co: 4,
      strides: 2,
      pad: [
        [0, 0],
        [1, 2],
        [0, 3],
        [0, 0],
      ],
    },
    // More channels than the transpose tile (64), stride 2, odd size.
    { x: [2, 9, 9, 70], k: 3, co: 66, strides: 2, pad: 'same' },
  );
  return cases;
}

describe('composed wasm conv kernels', () => {
  beforeAll(async () => {
    process.env.FEDXRAY_QUIET = '1';
    await initBackend({ preferred: 'wasm' });
  });

  it('replaces Conv2DBackpropInput and adds Conv2DBackpropFilter on wasm', () => {
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')?.kernelFunc).not.toBe(
      getOriginalWasmKernel('Conv2DBackpropInput'),
    );
    expect(getOriginalWasmKernel('Conv2DBackpropInput')).toBeDefined();
  });

  it.each(grid().map((c) => [caseName(c), c] as const))(
    'matches cpu gradients: %s',
    async (_, c) => {
      const [kh, kw] = typeof c.k === 'number' ? [c.k, c.k] : c.k;
      const data = {
        x: normal(size(c.x)),
        w: normal(kh * kw * c.x[3] * c.co),
        r: normal(size(c.x) * c.co),
      };
      const cpu = await convAndGrads('cpu', c, data);
      const wasm = await convAndGrads('wasm', c, data);
      expect(relError(wasm.y, cpu.y)).toBeLessThan(1e-4);
      expect(relError(wasm.dx, cpu.dx)).toBeLessThan(1e-4);
      expect(relError(wasm.dw, cpu.dw)).toBeLessThan(1e-4);
      // Every composition, whichever the cost estimates picked above.
      for (const strategy of ['gemm', 'other'] as const) {
        for (const which of ['dx', 'dw'] as const) {
          const err = relError(forcedGrad(c, data, which, strategy), cpu[which]);
          expect(err, `${which} ${strategy}`).toBeLessThan(1e-4);
        }
      }
    },
  );

  it('frees every intermediate buffer', () => {
    const backend = tf.backend();
    const x = tf.tensor4d(normal(2 * 9 * 9 * 4), [2, 9, 9, 4]);
    const w = tf.tensor4d(normal(3 * 3 * 4 * 6), [3, 3, 4, 6]);
    const before = backend.numDataIds();
    for (const strides of [1, 2]) {
      const conv = (a: tf.Tensor, b: tf.Tensor): tf.Tensor =>
        tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, strides, 'same').sum();
      tf.dispose(tf.grads(conv)([x, w]));
    }
    expect(backend.numDataIds()).toBe(before);
    tf.dispose([x, w]);
  });

  it('plans stride phases that cover each input row exactly once', () => {
    for (const [len, k, s, padTop] of [
      [7, 3, 2, 1],
      [8, 3, 2, 0],
      [7, 1, 2, 0],
      [64, 7, 2, 2],
      [11, 5, 3, 2],
    ]) {
      const outLen = Math.ceil(len / s);
      const phases = planAxisPhases(len, k, s, padTop, outLen);
      expect(phases.reduce((n, p) => n + p.count, 0)).toBe(len);
      expect(phases.reduce((n, p) => n + p.taps, 0)).toBe(k);
      for (const p of phases) {
        // The padded dy length fits a valid conv with `taps` taps and `count` outputs.
        if (p.taps > 0) {
          expect(p.padBefore + outLen - p.cropBefore - p.cropAfter + p.padAfter).toBe(
            p.count + p.taps - 1,
          );
        }
      }
    }
  });
});
