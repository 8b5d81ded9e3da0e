import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeWeights, encodeWeights, type EncodeWeightsOptions } from './codec.ts';
import { WeightsFormatError } from './errors.ts';
import { parseManifest } from './manifest.ts';
import type { NamedWeights, WeightsManifest } from './types.ts';

export const WEIGHTS_BLOB_FILE = 'weights.bin';
export const WEIGHTS_MANIFEST_FILE = 'weights.json';

/**
 * Writes weights.bin then weights.json into `dir` (created if needed), each via a temporary
 * file renamed into place, so a crash never leaves a half-written file under the real name.
 * A reader racing a writer can still pair an old manifest with a new blob; that shows up as a
 * checksum mismatch rather than as wrong weights.
 */
export async function saveWeights(
  dir: string,
  weights: readonly NamedWeights[],
  opts: EncodeWeightsOptions = {},
): Promise<WeightsManifest> {
  const { manifest, blob } = encodeWeights(weights, opts);
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, WEIGHTS_BLOB_FILE), blob);
  await writeFileAtomic(join(dir, WEIGHTS_MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Reads and verifies what saveWeights wrote. Throws WeightsFormatError on bad content. */
export async function loadWeights(dir: string): Promise<NamedWeights[]> {
  return (await loadWeightsWithManifest(dir)).weights;
}

/** loadWeights, also returning the manifest (for its meta). */
export async function loadWeightsWithManifest(
  dir: string,
): Promise<{ weights: NamedWeights[]; manifest: WeightsManifest }> {
  const text = await readFile(join(dir, WEIGHTS_MANIFEST_FILE), 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new WeightsFormatError(
      'bad-manifest',
      `${join(dir, WEIGHTS_MANIFEST_FILE)} is not JSON: ${(err as Error).message}`,
    );
  }
  const manifest = parseManifest(json);
  const blob = await readFile(join(dir, WEIGHTS_BLOB_FILE));
  return { weights: decodeWeights(manifest, blob), manifest };
}

/** Write to a sibling temp file, fsync, then rename over `path`. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
