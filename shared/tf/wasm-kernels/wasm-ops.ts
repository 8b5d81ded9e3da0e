/**
 * Helpers for composing kernels on the wasm backend: typed calls into kernels it already has,
 * and a scratch list of intermediates.
 * Everything here runs inside a kernelFunc: inputs and outputs are TensorInfo handles, not
 * Tensors, so the engine never sees the intermediates and we must free them ourselves.
 */
import { tf } from '../tf.ts';

type TensorInfo = tf.TensorInfo;
type DataId = tf.DataId;
export type ExplicitPad = [[number, number], [number, number], [number, number], [number, number]];

/** The parts of tfjs-backend-wasm's BackendWasm that composed kernels use. */
export interface WasmBackend {
  disposeData(dataId: DataId, force?: boolean): boolean;
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): tf.TypedArray;
}

export function asWasmBackend(backend: object): WasmBackend {
  const b = backend as Partial<WasmBackend>;
  if (
    typeof b.disposeData !== 'function' ||
    typeof b.makeOutput !== 'function' ||
    typeof b.typedArrayFromHeap !== 'function'
  ) {
    throw new Error('composed wasm kernel called with a backend that is not BackendWasm');
  }
  return b as WasmBackend;
}

/** Intermediates created while composing a kernel; free() releases them all. */
export class Scratch {
  private readonly held: TensorInfo[] = [];
  constructor(readonly backend: WasmBackend) {}

  keep(info: TensorInfo): TensorInfo {
    this.held.push(info);
    return info;
  }

  /** Hands one intermediate over to the caller (the kernel's result): free() skips it. */
  detach(info: TensorInfo): TensorInfo {
    const i = this.held.indexOf(info);
    if (i >= 0) this.held.splice(i, 1);
    return info;
  }

  /** Frees one intermediate now. */
  release(info: TensorInfo): void {
    this.detach(info);
    this.backend.disposeData(info.dataId);
  }

  free(): void {
    for (const info of this.held) this.backend.disposeData(info.dataId);
    this.held.length = 0;
  }
}

function run(
  name: string,
  backend: WasmBackend,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap,
): TensorInfo {
  const config = tf.getKernel(name, 'wasm');
  if (config === undefined) throw new Error(`wasm kernel '${name}' is not registered`);
  const out = config.kernelFunc({ inputs, backend, attrs });
  if (Array.isArray(out)) throw new Error(`wasm kernel '${name}' returned several outputs`);
  return out;
}

export function conv2d(
  s: Scratch,
  x: TensorInfo,
  filter: TensorInfo,
  pad: ExplicitPad,
  dilations: [number, number] = [1, 1],
): TensorInfo {
  return s.keep(
    run(
      'Conv2D',
      s.backend,
      { x, filter },
      { strides: [1, 1], pad, dilations, dataFormat: 'NHWC' },
    ),
  );
}

export function matMul(s: Scratch, a: TensorInfo, b: TensorInfo): TensorInfo {
  return s.keep(run('BatchMatMul', s.backend, { a, b }, { transposeA: false, transposeB: false }));
}

/** The same buffer seen with another shape (no copy, no new reference: do not free it). */
export function view(x: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: x.dataId, shape, dtype: x.dtype };
}

export function transpose(s: Scratch, x: TensorInfo, perm: number[]): TensorInfo {
  return s.keep(run('Transpose', s.backend, { x }, { perm }));
}

export function reverse(s: Scratch, x: TensorInfo, dims: number[]): TensorInfo {
  return s.keep(run('Reverse', s.backend, { x }, { dims }));
}

export function slice(s: Scratch, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  return s.keep(run('Slice', s.backend, { x }, { begin, size }));
}

export function stridedSlice(
  s: Scratch,
  x: TensorInfo,
  begin: number[],
  end: number[],
  strides: number[],
): TensorInfo {
  const attrs = {
    begin,
    end,
    strides,
    beginMask: 0,
    endMask: 0,
    ellipsisMask: 0,
    newAxisMask: 0,
    shrinkAxisMask: 0,
  };
  return s.keep(run('StridedSlice', s.backend, { x }, attrs));
}
