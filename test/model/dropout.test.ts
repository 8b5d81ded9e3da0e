import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset, SAMPLE_DATA_DIR } from '../../shared/data/index.ts';
import { SeededDropout, withDropoutSeed } from '../../shared/model/dropout.ts';
import { getModelWeights } from '../../shared/model/model-weights.ts';
import { tf } from '../../shared/tf/tf.ts';
import { trainLocal } from '../../shared/training/local-train.ts';
import { TINY_PREPROCESSING, tinyModel, tinySettings, useTestBackend } from '../helpers/tiny.ts';

beforeAll(useTestBackend);

function mask(layer: SeededDropout, seed?: number): number[] {
  const x = tf.ones([4, 64]);
  const run = (): number[] =>
    Array.from((layer.apply(x, { training: true }) as tf.Tensor).dataSync());
  const out = seed === undefined ? run() : withDropoutSeed(seed, run);
  x.dispose();
  return out;
}

describe('SeededDropout', () => {
  it('draws a new mask every step, the same one for the same step seed', () => {
    const layer = new SeededDropout({ rate: 0.5, seed: 3 });
    const a = mask(layer, 1);
    expect(mask(layer, 1)).toEqual(a);
    expect(mask(layer, 2)).not.toEqual(a);
    // Without a step seed, each call still differs (a call counter).
    expect(mask(layer)).not.toEqual(mask(layer));
    // Kept units are scaled by 1 / (1 - rate); about half are kept.
    expect(new Set(a)).toEqual(new Set([0, 2]));
    const kept = a.filter((v) => v > 0).length / a.length;
    expect(kept).toBeGreaterThan(0.35);
    expect(kept).toBeLessThan(0.65);
  });

  it('is the identity at inference', () => {
    const layer = new SeededDropout({ rate: 0.5, seed: 3 });
    const x = tf.tensor2d([[1, 2, 3]]);
    const y = layer.apply(x) as tf.Tensor;
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
    tf.dispose([x, y]);
  });

  it('makes training with dropout (AlexNet) reproducible', async () => {
    const records = (await loadDataset(SAMPLE_DATA_DIR)).slice(0, 16);
    const train = async (): Promise<Float32Array> => {
      const model = tinyModel('alexnet');
      await trainLocal(model, records, tinySettings({ epochs: 1 }), {
        preprocessing: TINY_PREPROCESSING,
      });
      const weights = getModelWeights(model);
      model.dispose();
      return weights.find((w) => w.name.includes('head_dense1'))?.data ?? new Float32Array();
    };
    const first = await train();
    expect(first.length).toBeGreaterThan(0);
    expect(Array.from(await train())).toEqual(Array.from(first));
  });
});
