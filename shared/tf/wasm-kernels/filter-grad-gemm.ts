/**
 * Conv2DBackpropFilter as im2col plus one GEMM: dW [KH*KW*Ci, Co] = colsT [KH*KW*Ci, P] x dy
 * [P, Co], with P = N*OH*OW. The result is already in HWIO order. XNNPACK packs the GEMM's
 * right operand, so that operand is a private copy of dy: wasm's BatchMatMul caches the packed
 * operand by buffer id whatever shape it is viewed with, and dy's buffer is not ours.
 */
import { tf } from '../tf.ts';
import { matMul, Scratch } from './wasm-ops.ts';

export function filterGradByGemm(
  scratch: Scratch,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const { batchSize: n, outHeight: oh, outWidth: ow, outChannels: co } = info;
  const { filterHeight: kh, filterWidth: kw, inChannels: ci } = info;
  const p = n * oh * ow;
  const wasm = scratch.backend;
  const colsT = scratch.keep(wasm.makeOutput([kh * kw * ci, p], 'float32'));
  im2colT(wasm.typedArrayFromHeap(x), wasm.typedArrayFromHeap(colsT), info);
  const dyCopy = scratch.keep(wasm.makeOutput([p, co], 'float32'));
  wasm.typedArrayFromHeap(dyCopy).set(wasm.typedArrayFromHeap(dy));
  const grad = scratch.detach(matMul(scratch, colsT, dyCopy)); // [KH*KW*Ci, Co]
  return { ...grad, shape: [kh, kw, ci, co] };
}

/** colsT[kh, kw, ci, (n, oh, ow)] = x[n, oh*s + kh - pad, ow*s + kw - pad, ci], 0 in padding. */
function im2colT(x: tf.TypedArray, colsT: tf.TypedArray, info: tf.backend_util.Conv2DInfo): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci } = info;
  const { outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw } = info;
  const { strideHeight: sh, strideWidth: sw, padInfo } = info;
  const p = n * oh * ow;
  const source = new Int32Array(p);
  for (let y = 0; y < kh; y++) {
    for (let xx = 0; xx < kw; xx++) {
      let i = 0;
      for (let b = 0; b < n; b++) {
        for (let r = 0; r < oh; r++) {
          const ih = r * sh + y - padInfo.top;
          for (let c = 0; c < ow; c++, i++) {
            const iw = c * sw + xx - padInfo.left;
            source[i] = ih >= 0 && ih < h && iw >= 0 && iw < w ? ((b * h + ih) * w + iw) * ci : -1;
          }
        }
      }
      const tap = (y * kw + xx) * ci * p;
      for (let q = 0; q < ci; q++) {
        const row = tap + q * p;
        for (let j = 0; j < p; j++) {
          const from = source[j];
          colsT[row + j] = from >= 0 ? x[from + q] : 0;
        }
      }
    }
  }
}
