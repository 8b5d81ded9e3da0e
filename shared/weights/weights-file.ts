/**
 * A packed weights file (envelope.ts) read tensor by tensor instead of whole: the blob is
 * hashed in one streamed pass when the file is opened, then each tensor is read from its
 * offset when asked. The aggregator aggregates a round this way, so its memory holds one
 * model and a tensor per update rather than every update.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { readTensor } from './codec.ts';
import { HEADER_BYTES, manifestByteLength, unpackWeights } from './envelope.ts';
import { WeightsFormatError } from './errors.ts';
import { bytesPerElement, type WeightsManifest, type WeightsManifestEntry } from './types.ts';

export interface WeightsFile {
  readonly manifest: WeightsManifest;
  /** A fresh float32 copy of one tensor; undefined when the file has none by that name. */
  tensor(name: string): Promise<Float32Array | undefined>;
  close(): Promise<void>;
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  if (bytesRead !== length) {
    throw new WeightsFormatError('size-mismatch', 'the packed weights file is truncated');
  }
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
      async tensor(name) {
        const entry = entries.get(name);
        if (!entry) return undefined;
        const bytesOf = await readAt(handle, blobStart + entry.offset, entry.byteLength);
        return readTensor(bytesOf, 0, entry.byteLength / bytesPerElement(entry.dtype), entry.dtype);
      },
      close: () => handle.close(),
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}
