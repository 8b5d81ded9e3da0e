import { WeightsFormatError } from './errors.ts';
import {
  bytesPerElement,
  shapeSize,
  WEIGHTS_FORMAT,
  WEIGHTS_VERSION,
  type WeightsDtype,
  type WeightsManifest,
  type WeightsManifestEntry,
} from './types.ts';

/**
 * Checks that `value` (usually parsed JSON from the wire) is a version-1 manifest whose
 * entries have valid shapes, byte lengths matching their shapes, and tile [0, byteLength)
 * in order with no gaps or overlaps. Does not look at the blob.
 */
export function parseManifest(value: unknown): WeightsManifest {
  if (!isRecord(value)) throw bad('manifest is not an object');
  if (value.format !== WEIGHTS_FORMAT) {
    throw bad(`format is ${JSON.stringify(value.format)}, expected "${WEIGHTS_FORMAT}"`);
  }
  if (value.version !== WEIGHTS_VERSION) {
    throw new WeightsFormatError(
      'unsupported-version',
      `manifest version ${JSON.stringify(value.version)}; this reader supports ${WEIGHTS_VERSION}`,
    );
  }
  const dtype = value.dtype;
  if (!isDtype(dtype)) throw bad(`dtype ${JSON.stringify(dtype)} is not float32 or float16`);
  const { byteLength, sha256, entries, meta } = value;
  if (!isCount(byteLength))
    throw bad(`byteLength ${JSON.stringify(byteLength)} is not a byte count`);
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) {
    throw bad('sha256 is not 64 lower-case hex digits');
  }
  if (!Array.isArray(entries)) throw bad('entries is not an array');
  if (meta !== undefined && !isRecord(meta)) throw bad('meta is not an object');

  const names = new Set<string>();
  let expectedOffset = 0;
  const parsed = entries.map((entry: unknown, i): WeightsManifestEntry => {
    if (!isRecord(entry)) throw bad(`entry ${i} is not an object`);
    const { name, shape, offset } = entry;
    if (typeof name !== 'string' || name === '') throw bad(`entry ${i} has no name`);
    if (names.has(name)) throw bad(`duplicate entry name "${name}"`);
    names.add(name);
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw bad(`entry "${name}" shape ${JSON.stringify(shape)} is not a list of sizes`);
    }
    if (entry.dtype !== dtype) {
      throw bad(`entry "${name}" dtype ${JSON.stringify(entry.dtype)} differs from ${dtype}`);
    }
    if (!isCount(offset) || !isCount(entry.byteLength)) {
      throw bad(`entry "${name}" offset/byteLength are not byte counts`);
    }
    if (offset !== expectedOffset) {
      throw bad(
        `entry "${name}" starts at byte ${offset}, expected ${expectedOffset} (entries must tile the blob in order)`,
      );
    }
    const wanted = shapeSize(shape) * bytesPerElement(dtype);
    if (entry.byteLength !== wanted) {
      throw new WeightsFormatError(
        'size-mismatch',
        `entry "${name}" has ${entry.byteLength} bytes; shape [${shape.join(', ')}] of ${dtype} needs ${wanted}`,
      );
    }
    expectedOffset += wanted;
    return { name, shape: [...shape], dtype, offset, byteLength: wanted };
  });
  if (expectedOffset !== byteLength) {
    throw bad(`entries cover ${expectedOffset} bytes but byteLength is ${byteLength}`);
  }
  return {
    format: WEIGHTS_FORMAT,
    version: WEIGHTS_VERSION,
    dtype,
    byteLength,
    sha256,
    entries: parsed,
    ...(meta === undefined ? {} : { meta }),
  };
}

function bad(message: string): WeightsFormatError {
  return new WeightsFormatError('bad-manifest', message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isDtype(value: unknown): value is WeightsDtype {
  return value === 'float32' || value === 'float16';
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
