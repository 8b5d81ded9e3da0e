import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyAugment } from '../../shared/data/augment.ts';
import { loadPredictorDir, writeEnsembleDir } from '../../shared/model/ensemble.ts';
import { ttaScorer, ttaVariants } from '../../shared/model/tta.ts';
import { tf } from '../../shared/tf/tf.ts';
import type { BatchScorer } from '../../shared/training/predict.ts';
import { createRng } from '../../shared/util/random.ts';
import { writeTinyModelDir } from '../inference-api/fixtures.ts';
import { useTestBackend } from '../helpers/tiny.ts';

const SIZE = 16;
const image = (seed: number) => {
  const rng = createRng(seed);
  return Float32Array.from({ length: SIZE * SIZE }, () => rng.normal());
};
/** A stand-in model: P = the mean of the image's top-left quarter, squashed. */
const quarterMean: BatchScorer = (xs, count, size) =>
  Float32Array.from({ length: count }, (_, i) => {
    let s = 0;
    for (let y = 0; y < size / 2; y++)
      for (let x = 0; x < size / 2; x++) s += xs[i * size * size + y * size + x];
    return 1 / (1 + Math.exp(-s / 10));
  });

describe('test-time augmentation', () => {
  it("'none' is the model itself", () => {
    expect(ttaScorer(quarterMean, 'none')).toBe(quarterMean);
  });

  it("'affine5' scores each image as the mean over its five variants, image by image", () => {
    const a = image(1);
    const b = image(2);
    const xs = new Float32Array(2 * SIZE * SIZE);
    xs.set(a, 0);
    xs.set(b, SIZE * SIZE);
    const got = ttaScorer(quarterMean, 'affine5')(xs, 2, SIZE);
    const variants = ttaVariants('affine5', SIZE);
    expect(variants).toHaveLength(5);
    [a, b].forEach((img, i) => {
      const want =
        variants.reduce(
          (sum, v) => sum + quarterMean(applyAugment(img, SIZE, v, 'edge'), 1, SIZE)[0],
          0,
        ) / variants.length;
      expect(got[i]).toBeCloseTo(want, 6);
    });
  });
});

describe('a model directory that asks for TTA', () => {
  let dir: string;
  beforeAll(async () => {
    await useTestBackend();
    dir = await mkdtemp(join(tmpdir(), 'fedxray-tta-'));
    await writeTinyModelDir(join(dir, 'a'), 1);
    await writeTinyModelDir(join(dir, 'b'), 2);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('is scored with it by loadPredictorDir, and evaluate can override it', async () => {
    await writeEnsembleDir(join(dir, 'ens'), [join(dir, 'a'), join(dir, 'b')], { tta: 'affine5' });
    const rng = createRng(3);
    const xs = Float32Array.from({ length: 32 * 32 }, () => rng.normal());
    const withTta = await loadPredictorDir(join(dir, 'ens'));
    const without = await loadPredictorDir(join(dir, 'ens'), { tta: 'none' });
    expect(withTta.metadata.tta).toBe('affine5');
    const before = tf.memory().numTensors;
    const p = withTta.score(xs, 1, 32)[0];
    expect(tf.memory().numTensors).toBe(before);
    const want = ttaScorer(without.score, 'affine5')(xs, 1, 32)[0];
    expect(p).toBeCloseTo(want, 6);
    withTta.dispose();
    without.dispose();
  });
});
