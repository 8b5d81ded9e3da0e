import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WeightsFormatError } from '../../shared/weights/errors.ts';
import {
  loadWeights,
  loadWeightsWithManifest,
  saveWeights,
  writeFileAtomic,
} from '../../shared/weights/store.ts';
import type { NamedWeights } from '../../shared/weights/types.ts';

const weights: NamedWeights[] = [
  { name: 'w', shape: [2, 3], data: Float32Array.of(1, -2, 3.25, 0, 2 ** -10, -7) },
  { name: 'b', shape: [3], data: Float32Array.of(0.5, 0.25, -0.125) },
];

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fedxray-weights-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('saveWeights / loadWeights', () => {
  it('round-trips through weights.bin + weights.json and leaves no temp files', async () => {
    const target = join(dir, 'nested', 'model');
    const manifest = await saveWeights(target, weights, { meta: { round: 2 } });
    expect((await readdir(target)).sort()).toEqual(['weights.bin', 'weights.json']);
    expect(await loadWeights(target)).toEqual(weights);
    const loaded = await loadWeightsWithManifest(target);
    expect(loaded.manifest).toEqual(manifest);
    expect(loaded.manifest.meta).toEqual({ round: 2 });
    const json = JSON.parse(await readFile(join(target, 'weights.json'), 'utf8')) as {
      sha256: string;
    };
    expect(json.sha256).toBe(manifest.sha256);
  });

  it('overwrites an existing save', async () => {
    await saveWeights(dir, weights);
    const changed = [{ ...weights[0], data: weights[0].data.map((x) => x * 2) }, weights[1]];
    await saveWeights(dir, changed, { dtype: 'float16' });
    expect(await loadWeights(dir)).toEqual(changed);
  });

  it('reports corrupt files as WeightsFormatError', async () => {
    await saveWeights(dir, weights);
    await writeFile(join(dir, 'weights.bin'), Buffer.alloc(36));
    await expect(loadWeights(dir)).rejects.toMatchObject({ code: 'checksum-mismatch' });
    await writeFile(join(dir, 'weights.json'), '{ not json');
    await expect(loadWeights(dir)).rejects.toBeInstanceOf(WeightsFormatError);
    await expect(loadWeights(dir)).rejects.toMatchObject({ code: 'bad-manifest' });
  });

  it('writeFileAtomic replaces the file and cleans up on failure', async () => {
    const path = join(dir, 'x.txt');
    await writeFileAtomic(path, 'one');
    await writeFileAtomic(path, 'two');
    expect(await readFile(path, 'utf8')).toBe('two');
    await expect(writeFileAtomic(join(dir, 'missing', 'y.txt'), 'z')).rejects.toThrow();
    expect(await readdir(dir)).toEqual(['x.txt']);
  });
});
