/**
 * A packed weights file (envelope.ts) read tensor by tensor instead of whole: the blob is
 * hashed in one streamed pass when the file is opened, then each tensor is read from its
 * offset when asked. The aggregator aggregates a round this way, so its memory holds one
 * model and a tensor per update rather than every update.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { endianness } from 'node:os';
import { open, type FileHandle } from 'node:fs/promises';
import { readTensor } from './codec.ts';
import { HEADER_BYTES, manifestByteLength, unpackWeights } from './envelope.ts';
import { WeightsFormatError } from './errors.ts';
import { bytesPerElement, type WeightsManifest, type WeightsManifestEntry } from './types.ts';

export interface WeightsFile {
  readonly manifest: WeightsManifest;
  /**
   * One tensor as float32; undefined when the file has none by that name. A float32 tensor is
   * read straight into `into` when given and long enough (the answer is then a view of it);
   * otherwise the answer is a fresh array.
   */
  tensor(name: string, into?: Float32Array): Promise<Float32Array | undefined>;
  close(): Promise<void>;
}

const LITTLE_ENDIAN_HOST = endianness() === 'LE';

const truncated = () =>
  new WeightsFormatError('size-mismatch', 'the packed weights file is truncated');

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  if (bytesRead !== length) throw truncated();
  return buffer;
}

function hashFrom(file: string, start: number): Promise<{ sha256: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let bytes = 0;
    createReadStream(file, { start })
      .on('data', (chunk) => {
        bytes += chunk.length;
        hash.update(chunk);
      })
      .on('error', reject)
      .on('end', () => resolve({ sha256: hash.digest('hex'), bytes }));
  });
}

/**
 * Opens `file` after checking its manifest, its blob's length and sha256 and, when given, that
 * sha256 against `expectedSha256` (what the database recorded). Throws WeightsFormatError.
 */
export async function openWeightsFile(file: string, expectedSha256?: string): Promise<WeightsFile> {
  const handle = await open(file, 'r');
  try {
    const jsonLength = manifestByteLength(await readAt(handle, 0, HEADER_BYTES));
    const { manifest } = unpackWeights(await readAt(handle, 0, HEADER_BYTES + jsonLength));
    const blobStart = HEADER_BYTES + jsonLength;
    const { sha256, bytes } = await hashFrom(file, blobStart);
    if (bytes !== manifest.byteLength) {
      throw new WeightsFormatError(
        'size-mismatch',
        `${file}: blob has ${bytes} bytes but the manifest says ${manifest.byteLength}`,
      );
    }
    if (sha256 !== manifest.sha256) {
      throw new WeightsFormatError(
        'checksum-mismatch',
        `${file}: blob SHA-256 ${sha256} does not match the manifest's ${manifest.sha256}`,
      );
    }
    if (expectedSha256 !== undefined && sha256 !== expectedSha256) {
      throw new WeightsFormatError(
        'checksum-mismatch',
        `${file} holds weights with sha256 ${sha256}, not the recorded ${expectedSha256}`,
      );
    }
    const entries = new Map<string, WeightsManifestEntry>(manifest.entries.map((e) => [e.name, e]));
    return {
      manifest,
      async tensor(name, into) {
        const entry = entries.get(name);
        if (!entry) return undefined;
        const count = entry.byteLength / bytesPerElement(entry.dtype);
        const position = blobStart + entry.offset;
        if (into && into.length >= count && entry.dtype === 'float32' && LITTLE_ENDIAN_HOST) {
          // The file's bytes are the array's bytes: read them in place, no copy.
          const target = new Uint8Array(into.buffer, into.byteOffset, entry.byteLength);
          const { bytesRead } = await handle.read(target, 0, entry.byteLength, position);
          if (bytesRead !== entry.byteLength) throw truncated();
          return into.subarray(0, count);
        }
        const bytesOf = await readAt(handle, position, entry.byteLength);
        return readTensor(bytesOf, 0, count, entry.dtype);
      },
      close: () => handle.close(),
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}
