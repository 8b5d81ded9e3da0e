/**
 * Conv2DBackpropInput as one GEMM plus col2im, for layers with few output pixels and many
 * weights (the deep ResNet stages): colsT [KH*KW*Ci, P] = W [KH*KW*Ci, Co] x dyT [Co, P], with
 * P = N*OH*OW, then each column is added into dx where the forward conv read it.
 *
 * The weights are the GEMM's left operand, which XNNPACK reads as is; only dyT (small here)
 * gets packed. A conv-based composition must instead re-pack the whole filter on every call,
 * which costs more than the arithmetic when P is small.
 */
import { tf } from '../tf.ts';
import { matMul, Scratch, transpose, view } from './wasm-ops.ts';

export function inputGradByGemm(
  scratch: Scratch,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const { batchSize: n, outHeight: oh, outWidth: ow, outChannels: co } = info;
  const { filterHeight: kh, filterWidth: kw, inChannels: ci } = info;
  const p = n * oh * ow;
  const dyT = transpose(scratch, view(dy, [p, co]), [1, 0]);
  const colsT = matMul(scratch, view(filter, [kh * kw * ci, co]), dyT);
  scratch.release(dyT);
  const wasm = scratch.backend;
  const out = scratch.keep(wasm.makeOutput([n, info.inHeight, info.inWidth, ci], 'float32'));
  col2im(wasm.typedArrayFromHeap(colsT), wasm.typedArrayFromHeap(out), info);
  return scratch.detach(out);
}

/** dx[n, oh*s + kh - pad, ow*s + kw - pad, ci] += colsT[kh, kw, ci, (n, oh, ow)]. */
function col2im(colsT: tf.TypedArray, dx: tf.TypedArray, info: tf.backend_util.Conv2DInfo): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci } = info;
  const { outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw } = info;
  const { strideHeight: sh, strideWidth: sw, padInfo } = info;
  const p = n * oh * ow;
  dx.fill(0);
  // Per tap: where each column lands in dx (-1: in the padding), so the inner loop is flat.
  const target = new Int32Array(p);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      let i = 0;
      for (let b = 0; b < n; b++) {
        for (let r = 0; r < oh; r++) {
          const ih = r * sh + y - padInfo.top;
          for (let c = 0; c < ow; c++, i++) {
            const iw = c * sw + x - padInfo.left;
            target[i] = ih >= 0 && ih < h && iw >= 0 && iw < w ? ((b * h + ih) * w + iw) * ci : -1;
          }
        }
      }
      const tap = (y * kw + x) * ci * p;
      for (let q = 0; q < ci; q++) {
        const row = tap + q * p;
        for (let j = 0; j < p; j++) {
          const to = target[j];
          if (to >= 0) dx[to + q] += colsT[row + j];
        }
      }
    }
  }
}
