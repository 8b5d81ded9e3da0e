/**
 * Conv2DBackpropFilter as one forward conv on wasm's XNNPACK Conv2D, for layers with many
 * output pixels: the weight gradient correlates x with dy over the batch, i.e. a conv whose
 * "batch" is Ci, whose channels are N, whose filter is dy (dilated by the stride) and whose
 * output is the KH x KW filter.
 */
import { tf } from '../tf.ts';
import { conv2d, Scratch, transpose } from './wasm-ops.ts';

export function filterGradByConv(
  scratch: Scratch,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const [n, h, w, ci] = x.shape;
  const { strideHeight, strideWidth, padInfo, filterHeight, filterWidth } = info;
  // The forward conv reads padded rows [0, needH): crop x to them, or pad it up to them
  // (a rounding mode of 'ceil' can read past padInfo.bottom), so the conv's output is KH x KW.
  const needH = (info.outHeight - 1) * strideHeight + filterHeight;
  const needW = (info.outWidth - 1) * strideWidth + filterWidth;
  const keepH = Math.min(h, needH - padInfo.top);
  const keepW = Math.min(w, needW - padInfo.left);

  const wasm = scratch.backend;
  const xT = scratch.keep(wasm.makeOutput([ci, keepH, keepW, n], x.dtype));
  transposeToChannelsFirst(
    wasm.typedArrayFromHeap(x),
    wasm.typedArrayFromHeap(xT),
    [n, h, w, ci],
    keepH,
    keepW,
  );
  const dyT = transpose(scratch, dy, [1, 2, 0, 3]); // [OH, OW, N, Co]
  const grad = conv2d(
    scratch,
    xT,
    dyT,
    [
      [0, 0],
      [padInfo.top, needH - padInfo.top - keepH],
      [padInfo.left, needW - padInfo.left - keepW],
      [0, 0],
    ],
    [strideHeight, strideWidth],
  ); // [Ci, KH, KW, Co]
  return scratch.detach(transpose(scratch, grad, [1, 2, 0, 3]));
}

/** x [N, H, W, C] (first keepH rows, keepW columns) to [C, keepH, keepW, N]. */
function transposeToChannelsFirst(
  src: tf.TypedArray,
  dst: tf.TypedArray,
  [n, h, w, c]: number[],
  keepH: number,
  keepW: number,
): void {
  const planeStride = keepH * keepW * n;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < keepH; y++) {
      for (let x = 0; x < keepW; x++) {
        const from = ((b * h + y) * w + x) * c;
        const to = (y * keepW + x) * n + b;
        for (let k = 0; k < c; k++) dst[to + k * planeStride] = src[from + k];
      }
    }
  }
}
