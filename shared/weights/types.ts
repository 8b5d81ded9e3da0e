/** One weight tensor as plain data (row-major, like tf.Tensor.dataSync()). */
export interface NamedWeights {
  name: string;
  shape: number[];
  data: Float32Array;
}

export type WeightsDtype = 'float32' | 'float16';

export const WEIGHTS_FORMAT = 'fedxray-weights';
export const WEIGHTS_VERSION = 1;

export interface WeightsManifestEntry {
  name: string;
  shape: number[];
  dtype: WeightsDtype;
  /** Byte offset of this tensor in the blob. */
  offset: number;
  byteLength: number;
}

/**
 * JSON description of a weights blob: tensors stored back to back, little-endian, in entry
 * order, with the SHA-256 of the whole blob so corruption and truncation are caught.
 */
export interface WeightsManifest {
  format: typeof WEIGHTS_FORMAT;
  version: typeof WEIGHTS_VERSION;
  dtype: WeightsDtype;
  byteLength: number;
  /** Lower-case hex SHA-256 of the blob. */
  sha256: string;
  entries: WeightsManifestEntry[];
  meta?: Record<string, unknown>;
}

export function bytesPerElement(dtype: WeightsDtype): number {
  return dtype === 'float16' ? 2 : 4;
}

/** Number of elements of a shape ([] is a scalar: 1). */
export function shapeSize(shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}
