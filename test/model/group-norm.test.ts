import { beforeAll, describe, expect, it } from 'vitest';
import { GroupNormalization } from '../../shared/model/group-norm.ts';
import { tf } from '../../shared/tf/tf.ts';
import { useTestBackend } from '../helpers/tiny.ts';

beforeAll(useTestBackend);

/** Straightforward reference: per sample and group, mean and variance over H, W and the group's channels. */
function referenceGroupNorm(
  x: Float32Array,
  [n, h, w, c]: number[],
  groups: number,
  eps: number,
): Float32Array {
  const out = new Float32Array(x.length);
  const cg = c / groups;
  for (let b = 0; b < n; b++) {
    for (let g = 0; g < groups; g++) {
      const idx: number[] = [];
      for (let i = 0; i < h * w; i++)
        for (let k = 0; k < cg; k++) idx.push(b * h * w * c + i * c + g * cg + k);
      const mean = idx.reduce((s, j) => s + x[j], 0) / idx.length;
      const variance = idx.reduce((s, j) => s + (x[j] - mean) ** 2, 0) / idx.length;
      for (const j of idx) out[j] = (x[j] - mean) / Math.sqrt(variance + eps);
    }
  }
  return out;
}

describe('GroupNormalization', () => {
  it('matches a reference implementation', () => {
    const shape = [2, 5, 4, 32];
    const x = tf.randomNormal(shape, 3, 2, 'float32', 7);
    const layer = new GroupNormalization({ groups: 16 });
    const y = layer.apply(x) as tf.Tensor;
    const expected = referenceGroupNorm(x.dataSync() as Float32Array, shape, 16, 1e-5);
    const got = y.dataSync();
    let maxErr = 0;
    for (let i = 0; i < got.length; i++) maxErr = Math.max(maxErr, Math.abs(got[i] - expected[i]));
    expect(maxErr).toBeLessThan(1e-4);
    tf.dispose([x, y]);
  });

  it('normalises each sample independently of the rest of the batch', () => {
    const layer = new GroupNormalization({ groups: 4 });
    const a = tf.randomNormal([1, 6, 6, 8], 0, 1, 'float32', 1);
    const b = tf.randomNormal([3, 6, 6, 8], 5, 3, 'float32', 2);
    const alone = (layer.apply(a) as tf.Tensor).dataSync();
    const batched = (layer.apply(tf.concat([a, b])) as tf.Tensor).slice([0], [1]).dataSync();
    for (let i = 0; i < alone.length; i++) expect(batched[i]).toBeCloseTo(alone[i], 5);
  });

  it('rejects a channel count that the groups do not divide', () => {
    const input = tf.input({ shape: [4, 4, 12] });
    expect(() => new GroupNormalization({ groups: 16 }).apply(input)).toThrow(/not divisible/);
  });

  it('survives tfjs serialization: a saved model loads again and predicts identically', async () => {
    const input = tf.input({ shape: [8, 8, 1] });
    const conv = tf.layers
      .conv2d({ filters: 16, kernelSize: 3, padding: 'same' })
      .apply(input) as tf.SymbolicTensor;
    const norm = new GroupNormalization({ groups: 16, epsilon: 1e-3 }).apply(
      conv,
    ) as tf.SymbolicTensor;
    const pooled = tf.layers.globalAveragePooling2d({}).apply(norm) as tf.SymbolicTensor;
    const out = tf.layers
      .dense({ units: 2, activation: 'softmax' })
      .apply(pooled) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    // Non-trivial gamma and beta, so a lost weight would show.
    const gn = model.layers.find((l) => l instanceof GroupNormalization) as GroupNormalization;
    gn.setWeights([
      tf.randomNormal([16], 1, 0.5, 'float32', 3),
      tf.randomNormal([16], 0, 0.5, 'float32', 4),
    ]);

    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved as tf.io.ModelArtifacts));
    const restoredLayer = loaded.layers.find(
      (l) => l.getClassName() === 'GroupNormalization',
    ) as GroupNormalization;
    expect(restoredLayer).toBeInstanceOf(GroupNormalization);
    expect(restoredLayer.epsilon).toBe(1e-3);
    const x = tf.randomNormal([3, 8, 8, 1], 0, 1, 'float32', 5);
    const before = (model.predict(x) as tf.Tensor).dataSync();
    const after = (loaded.predict(x) as tf.Tensor).dataSync();
    expect(Array.from(after)).toEqual(Array.from(before));
  });
});
