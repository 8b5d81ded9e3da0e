import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeWeights,
  openWeightsFile,
  packWeights,
  WeightsFormatError,
  type NamedWeights,
} from '../../shared/weights/index.ts';

const weights: NamedWeights[] = [
  { name: 'conv/kernel', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
  { name: 'dense/bias', shape: [3], data: Float32Array.from([0.5, -0.25, 8]) },
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fxw-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function write(name: string, dtype: 'float32' | 'float16' = 'float32') {
  const { manifest, blob } = encodeWeights(weights, { dtype });
  const file = path.join(dir, name);
  await writeFile(file, packWeights(manifest, blob));
  return { file, sha256: manifest.sha256 };
}

describe('openWeightsFile', () => {
  it('reads each tensor from its offset, float16 widened', async () => {
    for (const dtype of ['float32', 'float16'] as const) {
      const { file, sha256 } = await write(`ok-${dtype}.fxw`, dtype);
      const opened = await openWeightsFile(file, sha256);
      try {
        expect(Array.from((await opened.tensor('dense/bias')) ?? [])).toEqual([0.5, -0.25, 8]);
        expect(Array.from((await opened.tensor('conv/kernel')) ?? [])).toEqual([1, 2, 3, 4, 5, 6]);
        expect(await opened.tensor('missing')).toBeUndefined();
        const scratch = new Float32Array(8);
        const view = await opened.tensor('conv/kernel', scratch);
        expect(Array.from(view ?? [])).toEqual([1, 2, 3, 4, 5, 6]);
        // float32 is read in place; float16 is widened into a fresh array.
        expect(view?.buffer === scratch.buffer).toBe(dtype === 'float32');
      } finally {
        await opened.close();
      }
    }
  });

  it('refuses a corrupt blob, a truncated file and another sha256 than recorded', async () => {
    const { file, sha256 } = await write('bad.fxw');
    const bytes = await readFile(file);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 1] ^= 0xff;
    await writeFile(file, flipped);
    await expect(openWeightsFile(file)).rejects.toThrow(/does not match the manifest/);
    await writeFile(file, bytes.subarray(0, bytes.length - 4));
    await expect(openWeightsFile(file)).rejects.toBeInstanceOf(WeightsFormatError);
    await writeFile(file, bytes);
    await expect(openWeightsFile(file, 'f'.repeat(64))).rejects.toThrow(
      new RegExp(`sha256 ${sha256}, not the recorded f{64}`),
    );
    await writeFile(file, Buffer.from('not weights at all'));
    await expect(openWeightsFile(file)).rejects.toThrow(/bad magic bytes/);
  });
});
