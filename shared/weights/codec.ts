import { endianness } from 'node:os';
import { WeightsFormatError } from './errors.ts';
import { float16ToFloat32Array, float32ToFloat16Array } from './float16.ts';
import { parseManifest } from './manifest.ts';
import { sha256Hex } from './sha256.ts';
import {
  bytesPerElement,
  type NamedWeights,
  shapeSize,
  WEIGHTS_FORMAT,
  WEIGHTS_VERSION,
  type WeightsDtype,
  type WeightsManifest,
  type WeightsManifestEntry,
} from './types.ts';

export interface EncodeWeightsOptions {
  /** Default float32 (exact). float16 halves the size; |x| > 65504 becomes ±Infinity. */
  dtype?: WeightsDtype;
  /** Free-form JSON-serialisable information (round, client id, sample count...). */
  meta?: Record<string, unknown>;
}

const LITTLE_ENDIAN_HOST = endianness() === 'LE';

/** Packs the tensors, in order, into one little-endian blob described by a JSON manifest. */
export function encodeWeights(
  weights: readonly NamedWeights[],
  opts: EncodeWeightsOptions = {},
): { manifest: WeightsManifest; blob: Buffer } {
  const dtype = opts.dtype ?? 'float32';
  const width = bytesPerElement(dtype);
  const names = new Set<string>();
  const entries: WeightsManifestEntry[] = [];
  let offset = 0;
  for (const w of weights) {
    if (typeof w.name !== 'string' || w.name === '') {
      throw new WeightsFormatError('bad-input', 'a tensor has an empty name');
    }
    if (names.has(w.name))
      throw new WeightsFormatError('bad-input', `duplicate tensor "${w.name}"`);
    names.add(w.name);
    if (!w.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new WeightsFormatError(
        'bad-input',
        `tensor "${w.name}" has shape [${w.shape.join(', ')}]`,
      );
    }
    if (w.data.length !== shapeSize(w.shape)) {
      throw new WeightsFormatError(
        'size-mismatch',
        `tensor "${w.name}" has ${w.data.length} values; shape [${w.shape.join(', ')}] needs ${shapeSize(w.shape)}`,
      );
    }
    const byteLength = w.data.length * width;
    entries.push({ name: w.name, shape: [...w.shape], dtype, offset, byteLength });
    offset += byteLength;
  }

  const blob = Buffer.alloc(offset);
  weights.forEach((w, i) => writeTensor(blob, entries[i].offset, w.data, dtype));
  const manifest: WeightsManifest = {
    format: WEIGHTS_FORMAT,
    version: WEIGHTS_VERSION,
    dtype,
    byteLength: blob.length,
    sha256: sha256Hex(blob),
    entries,
    ...(opts.meta === undefined ? {} : { meta: opts.meta }),
  };
  return { manifest, blob };
}

/**
 * Unpacks a blob after checking the manifest (format, version, shapes, tiling), the blob's
 * length and its SHA-256. Always returns float32 copies (float16 is widened). Throws
 * WeightsFormatError.
 */
export function decodeWeights(manifest: unknown, blob: Uint8Array): NamedWeights[] {
  const m = parseManifest(manifest);
  if (blob.length !== m.byteLength) {
    throw new WeightsFormatError(
      'size-mismatch',
      `blob has ${blob.length} bytes but the manifest says ${m.byteLength}${blob.length < m.byteLength ? ' (truncated?)' : ''}`,
    );
  }
  const actual = sha256Hex(blob);
  if (actual !== m.sha256) {
    throw new WeightsFormatError(
      'checksum-mismatch',
      `blob SHA-256 ${actual} does not match the manifest's ${m.sha256}`,
    );
  }
  return m.entries.map((e) => ({
    name: e.name,
    shape: [...e.shape],
    data: readTensor(blob, e.offset, e.byteLength / bytesPerElement(e.dtype), e.dtype),
  }));
}

function writeTensor(blob: Buffer, offset: number, data: Float32Array, dtype: WeightsDtype): void {
  const raw = dtype === 'float16' ? float32ToFloat16Array(data) : data;
  if (LITTLE_ENDIAN_HOST) {
    blob.set(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), offset);
    return;
  }
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  for (let i = 0; i < raw.length; i++) {
    if (raw instanceof Uint16Array) view.setUint16(offset + 2 * i, raw[i], true);
    else view.setFloat32(offset + 4 * i, raw[i], true);
  }
}

/** One tensor's values from `blob` at `offset`, widened to a fresh float32 array. */
export function readTensor(
  blob: Uint8Array,
  offset: number,
  count: number,
  dtype: WeightsDtype,
): Float32Array {
  const width = bytesPerElement(dtype);
  // Copy into a fresh, aligned buffer: the blob's byteOffset need not be a multiple of 4.
  // (new Uint8Array copies; Buffer#slice would return a view.)
  const bytes = new Uint8Array(blob.subarray(offset, offset + count * width));
  if (!LITTLE_ENDIAN_HOST) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (dtype === 'float16') {
      const halves = Uint16Array.from({ length: count }, (_, i) => view.getUint16(2 * i, true));
      return float16ToFloat32Array(halves);
    }
    return Float32Array.from({ length: count }, (_, i) => view.getFloat32(4 * i, true));
  }
  if (dtype === 'float16')
    return float16ToFloat32Array(new Uint16Array(bytes.buffer, bytes.byteOffset, count));
  return new Float32Array(bytes.buffer, bytes.byteOffset, count);
}
