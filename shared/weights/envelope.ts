import { WeightsFormatError } from './errors.ts';
import { parseManifest } from './manifest.ts';
import type { WeightsManifest } from './types.ts';

/** Media type of a packed weights file on the wire. */
export const WEIGHTS_MEDIA_TYPE = 'application/vnd.fedxray.weights';

const MAGIC = Buffer.from('FXW1', 'ascii');
/** Bytes before the manifest JSON: the magic and the manifest's length. */
export const HEADER_BYTES = MAGIC.length + 4;

/**
 * One HTTP body or file holding a weights manifest and its blob:
 * "FXW1" | manifest byte length (uint32 LE) | manifest JSON (UTF-8) | blob.
 * The blob's sha256 is in the manifest, so the envelope needs no checksum of its own.
 */
export function packWeights(manifest: WeightsManifest, blob: Uint8Array): Buffer {
  const json = Buffer.from(JSON.stringify(manifest), 'utf8');
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(json.length, MAGIC.length);
  return Buffer.concat([header, json, blob]);
}

/** Splits a packed weights file; decodeWeights(manifest, blob) then verifies the blob. */
export function unpackWeights(packed: Uint8Array): { manifest: WeightsManifest; blob: Buffer } {
  const buffer = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  const jsonLength = manifestByteLength(buffer);
  if (HEADER_BYTES + jsonLength > buffer.length) {
    throw new WeightsFormatError(
      'size-mismatch',
      `packed weights are truncated: the manifest needs ${jsonLength} bytes`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(buffer.subarray(HEADER_BYTES, HEADER_BYTES + jsonLength).toString('utf8'));
  } catch {
    throw new WeightsFormatError(
      'bad-manifest',
      'the manifest of the packed weights is not valid JSON',
    );
  }
  return { manifest: parseManifest(parsed), blob: buffer.subarray(HEADER_BYTES + jsonLength) };
}

/** The manifest's length from a packed file's first HEADER_BYTES bytes (checks the magic). */
export function manifestByteLength(header: Uint8Array): number {
  const buffer = Buffer.from(header.buffer, header.byteOffset, header.byteLength);
  if (buffer.length < HEADER_BYTES || !buffer.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new WeightsFormatError(
      'bad-manifest',
      'not a packed fedxray weights file (bad magic bytes)',
    );
  }
  return buffer.readUInt32LE(MAGIC.length);
}
