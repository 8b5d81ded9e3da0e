/**
 * Conv2DBackpropFilter for the wasm backend, which has none (tensorflow/tfjs#8474), composed
 * from wasm's XNNPACK kernels: im2col plus one GEMM, or one dilated forward conv (see
 * chooseFilterGradStrategy).
 */
import { tf } from '../tf.ts';
import { filterGradByConv } from './filter-grad-conv.ts';
import { filterGradByGemm } from './filter-grad-gemm.ts';
import { asWasmBackend, Scratch } from './wasm-ops.ts';

export type FilterGradStrategy = 'auto' | 'conv' | 'gemm';

/**
 * im2col writes KH*KW*Ci*P values in JS, a 1/Co share of the GEMM's multiply-adds; the dilated
 * conv instead runs XNNPACK with only N input channels, which is slower per multiply-add.
 * bench/wasm-kernels.ts: the conv wins at Co = 64 (ResNet stem, layer1), the GEMM from
 * Co = 128 on (batch 8 and 32).
 */
export function chooseFilterGradStrategy(info: tf.backend_util.Conv2DInfo): 'conv' | 'gemm' {
  return info.outChannels >= 96 ? 'gemm' : 'conv';
}

/** Builds the kernel; `strategy` forces one composition (benchmarks, tests). */
export function makeConv2dBackpropFilter(strategy: FilterGradStrategy = 'auto'): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs;
    if (x === undefined || dy === undefined) {
      throw new Error('Conv2DBackpropFilter needs x and dy');
    }
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
      attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    if (dataFormat !== 'NHWC') {
      throw new Error(`wasm Conv2DBackpropFilter supports NHWC only, got ${dataFormat}`);
    }
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filterShape,
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    const chosen = strategy === 'auto' ? chooseFilterGradStrategy(info) : strategy;
    const scratch = new Scratch(asWasmBackend(backend));
    try {
      return chosen === 'gemm'
        ? filterGradByGemm(scratch, x, dy, info)
        : filterGradByConv(scratch, x, dy, info);
    } finally {
      scratch.free();
    }
  };
}
