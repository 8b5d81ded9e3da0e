/**
 * Conv2DBackpropInput for the wasm backend, composed from wasm's XNNPACK kernels. wasm's own is
 * a scalar C++ loop, several times slower than the forward conv. Two compositions, chosen by a
 * cost estimate: stride phases of a forward conv (many output pixels per weight), or one GEMM
 * plus col2im (few pixels, many weights, where re-packing a conv filter would dominate).
 */
import { tf } from '../tf.ts';
import { inputGradByGemm } from './input-grad-gemm.ts';
import { inputGradByPhases } from './input-grad-phases.ts';
import { asWasmBackend, Scratch } from './wasm-ops.ts';

export type InputGradStrategy = 'auto' | 'phases' | 'gemm';

/**
 * The phases' extra cost is re-packing the filter (per weight, KH*KW*Ci*Co), the GEMM's is
 * col2im (per column entry, KH*KW*Ci*P), so the choice depends on P / Co with P = N*OH*OW.
 * bench/wasm-kernels.ts puts the crossover near P = 3-4 Co (batch 8 and 32, ResNet-18 shapes).
 */
export function chooseInputGradStrategy(info: tf.backend_util.Conv2DInfo): 'phases' | 'gemm' {
  const pixels = info.batchSize * info.outHeight * info.outWidth;
  return pixels < 3 * info.outChannels ? 'gemm' : 'phases';
}

/**
 * Builds the kernel. `fallback` (wasm's original) handles NCHW, which the compositions do not;
 * `strategy` forces one composition (benchmarks, tests).
 */
export function makeConv2dBackpropInput(
  fallback: tf.KernelFunc | undefined,
  strategy: InputGradStrategy = 'auto',
): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { dy, filter } = inputs;
    if (dy === undefined || filter === undefined) {
      throw new Error('Conv2DBackpropInput needs dy and filter');
    }
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } =
      attrs as unknown as tf.Conv2DBackpropInputAttrs;
    if (dataFormat !== 'NHWC') {
      if (fallback !== undefined) return fallback(args);
      throw new Error(`wasm Conv2DBackpropInput supports NHWC only, got ${dataFormat}`);
    }
    const info = tf.backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    const chosen = strategy === 'auto' ? chooseInputGradStrategy(info) : strategy;
    const scratch = new Scratch(asWasmBackend(backend));
    try {
      return chosen === 'gemm'
        ? inputGradByGemm(scratch, dy, filter, info)
        : inputGradByPhases(scratch, dy, filter, info);
    } finally {
      scratch.free();
    }
  };
}
