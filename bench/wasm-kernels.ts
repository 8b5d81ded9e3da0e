/**
 * Micro-benchmark of the wasm conv kernels a training step needs, on ResNet-18 shapes at 64x64
 * input: GMAC/s of the forward Conv2D (operator cached, and with new weights as in training),
 * wasm's own Conv2DBackpropInput, and both strategies of the composed Conv2DBackpropInput and
 * Conv2DBackpropFilter plus the registered kernels (which pick one by a cost estimate; the
 * `picks` column shows dx/dW choices).
 * Run: npx tsx bench/wasm-kernels.ts [batch=8]
 */
import { tf } from '../shared/tf/tf.ts';
import { initBackend } from '../shared/tf/backend.ts';
import {
  chooseFilterGradStrategy,
  makeConv2dBackpropFilter,
} from '../shared/tf/wasm-kernels/conv2d-backprop-filter.ts';
import {
  chooseInputGradStrategy,
  makeConv2dBackpropInput,
} from '../shared/tf/wasm-kernels/conv2d-backprop-input.ts';
import { getOriginalWasmKernel } from '../shared/tf/wasm-kernels/register.ts';
import { createRng } from '../shared/util/random.ts';

interface Shape {
  name: string;
  hw: number;
  ci: number;
  k: number;
  co: number;
  stride: number;
}

const SHAPES: Shape[] = [
  { name: 'stem 7x7/2 1->64', hw: 64, ci: 1, k: 7, co: 64, stride: 2 },
  { name: 'layer1 3x3/1 64', hw: 16, ci: 64, k: 3, co: 64, stride: 1 },
  { name: 'layer2 3x3/2 64->128', hw: 16, ci: 64, k: 3, co: 128, stride: 2 },
  { name: 'layer2 1x1/2 64->128', hw: 16, ci: 64, k: 1, co: 128, stride: 2 },
  { name: 'layer2 3x3/1 128', hw: 8, ci: 128, k: 3, co: 128, stride: 1 },
  { name: 'layer3 3x3/2 128->256', hw: 8, ci: 128, k: 3, co: 256, stride: 2 },
  { name: 'layer3 3x3/1 256', hw: 4, ci: 256, k: 3, co: 256, stride: 1 },
  { name: 'layer4 3x3/2 256->512', hw: 4, ci: 256, k: 3, co: 512, stride: 2 },
  { name: 'layer4 3x3/1 512', hw: 2, ci: 512, k: 3, co: 512, stride: 1 },
];

const COLUMNS = {
  fwd: 'forward Conv2D, XNNPACK operator cached',
  fwdNew: 'forward Conv2D with new weights each call (as in training: re-packs the filter)',
  dxOrig: "wasm's own Conv2DBackpropInput",
  dxPhases: 'composed Conv2DBackpropInput, stride phases',
  dxGemm: 'composed Conv2DBackpropInput, GEMM + col2im',
  dxAuto: 'composed Conv2DBackpropInput as registered (cost estimate picks)',
  dwConv: 'composed Conv2DBackpropFilter, one dilated forward conv',
  dwGemm: 'composed Conv2DBackpropFilter, im2col + GEMM',
  dwAuto: 'composed Conv2DBackpropFilter as registered (cost estimate picks)',
} as const;
type Column = keyof typeof COLUMNS;

// The best of several short blocks: the cores here are shared, and the minimum is the figure
// least disturbed by other processes.
const BLOCKS = 7;
const BLOCK_SECONDS = 0.06;

function kernel(name: string): tf.KernelFunc {
  const config = tf.getKernel(name, 'wasm');
  if (config === undefined) throw new Error(`no wasm kernel ${name}`);
  return config.kernelFunc;
}

function single(out: tf.TensorInfo | tf.TensorInfo[]): tf.TensorInfo {
  if (Array.isArray(out)) throw new Error('unexpected multi-output kernel');
  return out;
}

/** Seconds per call (best block), after one warm-up call; frees each output. */
function time(run: () => tf.TensorInfo | tf.TensorInfo[]): number {
  const backend = tf.backend();
  backend.disposeData(single(run()).dataId);
  let best = Infinity;
  for (let block = 0; block < BLOCKS; block++) {
    let reps = 0;
    const start = performance.now();
    while (reps < 2 || performance.now() - start < BLOCK_SECONDS * 1000) {
      backend.disposeData(single(run()).dataId);
      reps++;
    }
    best = Math.min(best, (performance.now() - start) / 1000 / reps);
  }
  return best;
}

async function main(): Promise<void> {
  const batch = Number(process.argv[2] ?? 8);
  const info = await initBackend({ preferred: 'wasm' });
  const original = getOriginalWasmKernel('Conv2DBackpropInput');
  if (original === undefined) throw new Error('wasm has no original Conv2DBackpropInput');
  const forward = kernel('Conv2D');
  const dxAuto = kernel('Conv2DBackpropInput');
  const dxPhases = makeConv2dBackpropInput(undefined, 'phases');
  const dxGemm = makeConv2dBackpropInput(undefined, 'gemm');
  const dwAuto = kernel('Conv2DBackpropFilter');
  const dwConv = makeConv2dBackpropFilter('conv');
  const dwGemm = makeConv2dBackpropFilter('gemm');
  const backend = tf.backend();
  const rng = createRng(7);
  const rand = (shape: number[]): tf.Tensor => {
    const size = shape.reduce((a, b) => a * b, 1);
    return tf.tensor(
      Float32Array.from({ length: size }, () => rng.normal()),
      shape,
    );
  };

  const rows: Array<{ shape: string; gmac: number; picks: string } & Record<Column, number>> = [];
  for (const s of SHAPES) {
    const xShape: [number, number, number, number] = [batch, s.hw, s.hw, s.ci];
    const filterShape: [number, number, number, number] = [s.k, s.k, s.ci, s.co];
    const x = rand(xShape);
    const filter = rand(filterShape);
    const convInfo = tf.backend_util.computeConv2DInfo(xShape, filterShape, s.stride, 1, 'same');
    const { outHeight, outWidth } = convInfo;
    const dy = rand([batch, outHeight, outWidth, s.co]);
    const gmac = (batch * outHeight * outWidth * s.k * s.k * s.ci * s.co) / 1e9;
    const common = { strides: s.stride, pad: 'same', dataFormat: 'NHWC' };
    const fwdAttrs = { ...common, dilations: 1 };
    const dxArgs = { inputs: { dy, filter }, backend, attrs: { ...common, inputShape: xShape } };
    const dwArgs = { inputs: { x, dy }, backend, attrs: { ...common, filterShape } };
    const seconds: Record<Column, number> = {
      fwd: time(() => forward({ inputs: { x, filter }, backend, attrs: fwdAttrs })),
      fwdNew: time(() => {
        const fresh = tf.clone(filter);
        const out = forward({ inputs: { x, filter: fresh }, backend, attrs: fwdAttrs });
        fresh.dispose();
        return out;
      }),
      dxOrig: time(() => original(dxArgs)),
      dxPhases: time(() => dxPhases(dxArgs)),
      dxGemm: time(() => dxGemm(dxArgs)),
      dxAuto: time(() => dxAuto(dxArgs)),
      dwConv: time(() => dwConv(dwArgs)),
      dwGemm: time(() => dwGemm(dwArgs)),
      dwAuto: time(() => dwAuto(dwArgs)),
    };
    const rates = Object.fromEntries(
      Object.entries(seconds).map(([key, sec]) => [key, Number((gmac / sec).toFixed(2))]),
    ) as Record<Column, number>;
    rows.push({
      shape: `${s.name} [${xShape.join(',')}]`,
      gmac: Number(gmac.toFixed(4)),
      picks: `${chooseInputGradStrategy(convInfo)}/${chooseFilterGradStrategy(convInfo)}`,
      ...rates,
    });
    tf.dispose([x, filter, dy]);
  }

  console.log(
    JSON.stringify({ backend: info, batch, unit: 'GMAC/s', columns: COLUMNS, rows }, null, 2),
  );
  const header = ['GMAC', ...Object.keys(COLUMNS), 'picks'];
  console.log(
    ['shape'.padEnd(42), ...header.map((h) => h.padStart(h === 'picks' ? 14 : 9))].join(''),
  );
  for (const r of rows) {
    const cells = [r.gmac, ...Object.keys(COLUMNS).map((k) => r[k as Column]), r.picks];
    console.log(
      [
        r.shape.padEnd(42),
        ...cells.map((v) => String(v).padStart(typeof v === 'string' ? 14 : 9)),
      ].join(''),
    );
  }
}

await main();
