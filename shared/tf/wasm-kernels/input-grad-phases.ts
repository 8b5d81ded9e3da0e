/**
 * Conv2DBackpropInput by stride phases, for layers with many output pixels per weight.
 * dx is a full correlation of dy with the spatially flipped filter (in/out channels swapped).
 * With stride s, dx splits into s*s interleaved phases; phase (a, b) holds the rows i = a + s*t
 * and columns j = b + s*u, and only every s-th filter tap reaches it. Each phase is therefore a
 * stride-1 conv of dy with a sub-sampled filter on wasm's XNNPACK Conv2D, so the total work
 * equals the forward conv's (inserting zeros into dy instead would cost s*s times more).
 */
import { tf } from '../tf.ts';
import { conv2d, Scratch, slice, type ExplicitPad } from './wasm-ops.ts';

/** One phase along one spatial axis: dx positions offset + stride*t, t in [0, count). */
export interface AxisPhase {
  offset: number;
  count: number;
  /** Filter taps that reach this phase (0: the phase's dx is all zeros). */
  taps: number;
  /** First tap in the flipped filter; then every stride-th. */
  tapStart: number;
  /** dy rows to drop before/after (when the padding exceeds what the phase reads). */
  cropBefore: number;
  cropAfter: number;
  /** Zero padding of the (cropped) dy for a valid stride-1 conv of `count` outputs. */
  padBefore: number;
  padAfter: number;
}

/**
 * Phases along one axis of a conv with input length `inLen`, filter `k`, stride `stride`,
 * padding `padTop` before the input and output length `outLen`. For the phase with offset a,
 * with c = (a + padTop) mod s and base = floor((a + padTop) / s):
 *   dx[a + s*t] = sum_m dy[base + t - m] * w[c + s*m],
 * a stride-1 correlation of the padded dy with those taps in reverse order.
 */
export function planAxisPhases(
  inLen: number,
  k: number,
  stride: number,
  padTop: number,
  outLen: number,
): AxisPhase[] {
  const phases: AxisPhase[] = [];
  for (let offset = 0; offset < stride && offset < inLen; offset++) {
    const count = Math.ceil((inLen - offset) / stride);
    const c = (offset + padTop) % stride;
    const base = (offset + padTop - c) / stride;
    const taps = c < k ? Math.ceil((k - c) / stride) : 0;
    const tapStart = taps > 0 ? (k - 1 - c) % stride : 0;
    const before = taps - 1 - base;
    const after = count + taps - 1 - before - outLen;
    phases.push({
      offset,
      count,
      taps,
      tapStart,
      cropBefore: Math.max(0, -before),
      cropAfter: Math.max(0, -after),
      padBefore: Math.max(0, before),
      padAfter: Math.max(0, after),
    });
  }
  return phases;
}

export function inputGradByPhases(
  scratch: Scratch,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels, outChannels } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const rows = planAxisPhases(
    inHeight,
    filterHeight,
    strideHeight,
    info.padInfo.top,
    info.outHeight,
  );
  const cols = planAxisPhases(inWidth, filterWidth, strideWidth, info.padInfo.left, info.outWidth);
  const [dyN, dyH, dyW, dyC] = dy.shape;
  const wasm = scratch.backend;
  const isZero = (r: AxisPhase, c: AxisPhase): boolean =>
    r.taps === 0 ||
    c.taps === 0 ||
    dyH - r.cropBefore - r.cropAfter <= 0 ||
    dyW - c.cropBefore - c.cropAfter <= 0;
  const phaseOut = (r: AxisPhase, c: AxisPhase): tf.TensorInfo => {
    const usedH = dyH - r.cropBefore - r.cropAfter;
    const usedW = dyW - c.cropBefore - c.cropAfter;
    // wasm's Reverse and StridedSlice are scalar loops, far slower than this in JS.
    const sub = scratch.keep(wasm.makeOutput([r.taps, c.taps, outChannels, inChannels], 'float32'));
    fillPhaseFilter(
      wasm.typedArrayFromHeap(filter),
      wasm.typedArrayFromHeap(sub),
      [filterHeight, filterWidth, inChannels, outChannels],
      r,
      c,
      strideHeight,
      strideWidth,
    );
    const cropped =
      r.cropBefore + r.cropAfter + c.cropBefore + c.cropAfter === 0
        ? dy
        : slice(scratch, dy, [0, r.cropBefore, c.cropBefore, 0], [dyN, usedH, usedW, dyC]);
    const padding: ExplicitPad = [
      [0, 0],
      [r.padBefore, r.padAfter],
      [c.padBefore, c.padAfter],
      [0, 0],
    ];
    const result = conv2d(scratch, cropped, sub, padding); // [N, r.count, c.count, Ci]
    scratch.release(sub); // also drops the XNNPACK operator cached for this filter
    return result;
  };

  if (rows.length === 1 && cols.length === 1 && !isZero(rows[0], cols[0])) {
    return scratch.detach(phaseOut(rows[0], cols[0]));
  }
  const out = scratch.keep(wasm.makeOutput([batchSize, inHeight, inWidth, inChannels], 'float32'));
  if (rows.some((r) => cols.some((c) => isZero(r, c)))) wasm.typedArrayFromHeap(out).fill(0);
  for (const r of rows) {
    for (const c of cols) {
      if (isZero(r, c)) continue;
      const part = phaseOut(r, c);
      // Views are taken after the conv: growing wasm memory detaches older views.
      scatterPhase(
        wasm.typedArrayFromHeap(part),
        wasm.typedArrayFromHeap(out),
        [batchSize, inHeight, inWidth, inChannels],
        r,
        c,
        strideHeight,
        strideWidth,
      );
      scratch.release(part);
    }
  }
  return scratch.detach(out);
}

const TILE = 64;

/**
 * Copies the taps of one phase from the HWIO filter into a [taps_h, taps_w, Co, Ci] filter,
 * flipped spatially (tap m of the phase is row K-1-(tapStart + s*m)), transposing each tap's
 * Ci x Co block in cache-sized tiles.
 */
function fillPhaseFilter(
  w: tf.TypedArray,
  dst: tf.TypedArray,
  [kh, kw, ci, co]: number[],
  r: AxisPhase,
  c: AxisPhase,
  strideH: number,
  strideW: number,
): void {
  let to = 0;
  for (let m = 0; m < r.taps; m++) {
    const y = kh - 1 - (r.tapStart + strideH * m);
    for (let n = 0; n < c.taps; n++) {
      const x = kw - 1 - (c.tapStart + strideW * n);
      const from = (y * kw + x) * ci * co;
      // Tiled, writing sequentially: about 2 ns per element in V8.
      for (let j0 = 0; j0 < co; j0 += TILE) {
        const jEnd = Math.min(co, j0 + TILE);
        for (let i0 = 0; i0 < ci; i0 += TILE) {
          const iEnd = Math.min(ci, i0 + TILE);
          for (let j = j0; j < jEnd; j++) {
            const out = to + j * ci;
            for (let i = i0; i < iEnd; i++) dst[out + i] = w[from + i * co + j];
          }
        }
      }
      to += ci * co;
    }
  }
}

/** Writes a phase's [N, rows.count, cols.count, C] result into every s-th row/column of dx. */
function scatterPhase(
  src: tf.TypedArray,
  dst: tf.TypedArray,
  [n, h, w, ch]: number[],
  r: AxisPhase,
  c: AxisPhase,
  strideH: number,
  strideW: number,
): void {
  let from = 0;
  for (let b = 0; b < n; b++) {
    for (let t = 0; t < r.count; t++) {
      const row = (b * h + r.offset + t * strideH) * w;
      for (let u = 0; u < c.count; u++) {
        const to = (row + c.offset + u * strideW) * ch;
        dst.set(src.subarray(from, from + ch), to);
        from += ch;
      }
    }
  }
}
