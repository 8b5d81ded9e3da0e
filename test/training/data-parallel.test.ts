import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset, SAMPLE_DATA_DIR, type XrayRecord } from '../../shared/data/index.ts';
import { getModelWeights } from '../../shared/model/model-weights.ts';
import { tf } from '../../shared/tf/tf.ts';
import { GradientPeers } from '../../shared/training/data-parallel.ts';
import { splitBatch } from '../../shared/training/gradients.ts';
import { trainLocal } from '../../shared/training/local-train.ts';
import { TINY_PREPROCESSING, tinyModel, tinySettings, useTestBackend } from '../helpers/tiny.ts';

let records: XrayRecord[];
let peers: GradientPeers;
beforeAll(async () => {
  await useTestBackend();
  records = (await loadDataset(SAMPLE_DATA_DIR)).slice(0, 21);
  peers = await GradientPeers.start({ architecture: 'se-resnet18-gn', inputSize: 32, width: 8 }, 1);
});
afterAll(() => peers.close());

describe('splitBatch', () => {
  it('cuts a batch into near-equal contiguous shards, none empty', () => {
    const batch = {
      xs: Float32Array.from({ length: 5 * 4 }, (_, i) => i),
      labels: Int32Array.from([0, 1, 0, 1, 1]),
      count: 5,
    };
    const shards = splitBatch(batch, 2);
    expect(shards.map((s) => s.count)).toEqual([3, 2]);
    expect(Array.from(shards[1].labels)).toEqual([1, 1]);
    expect(Array.from(shards[1].xs)).toEqual(Array.from({ length: 8 }, (_, i) => 12 + i));
    expect(
      splitBatch(
        { ...batch, count: 1, xs: batch.xs.slice(0, 4), labels: batch.labels.slice(0, 1) },
        3,
      ),
    ).toHaveLength(1);
  });
});

describe('data-parallel training', () => {
  it('gives the same model as one thread, up to float rounding, and keeps tensors flat', async () => {
    // 21 images at batch 8: the last batch (5) still splits; augmentation and shuffling on.
    const settings = tinySettings({ epochs: 2, augment: true, weightDecay: 1e-4 });
    const single = tinyModel();
    const parallel = tinyModel();
    const one = await trainLocal(single, records, settings, { preprocessing: TINY_PREPROCESSING });
    const before = tf.memory().numTensors;
    const two = await trainLocal(parallel, records, settings, {
      preprocessing: TINY_PREPROCESSING,
      peers,
    });
    expect(tf.memory().numTensors).toBe(before);
    // The worker's side of the loop is flat too: the same count after another epoch.
    const workerAfter = peers.workerTensors();
    expect(workerAfter[0]).toBeGreaterThan(0);
    const third = tinyModel();
    await trainLocal(third, records, tinySettings(), { preprocessing: TINY_PREPROCESSING, peers });
    third.dispose();
    expect(peers.workerTensors()).toEqual(workerAfter);
    two.epochs.forEach((e, i) => {
      expect(e.loss).toBeCloseTo(one.epochs[i].loss, 4);
      expect(e.accuracy).toBe(one.epochs[i].accuracy);
      expect(e.images).toBe(one.epochs[i].images);
    });
    expect(largestWeightDifference(single, parallel)).toBeLessThan(1e-3);
    single.dispose();
    parallel.dispose();
  });

  it('adds the FedProx proximal gradient once: the same model as one thread with mu > 0', async () => {
    const settings = tinySettings({ epochs: 1, augment: true, weightDecay: 1e-4, proximalMu: 10 });
    const single = tinyModel();
    const parallel = tinyModel();
    const one = await trainLocal(single, records, settings, { preprocessing: TINY_PREPROCESSING });
    const before = tf.memory().numTensors;
    const two = await trainLocal(parallel, records, settings, {
      preprocessing: TINY_PREPROCESSING,
      peers,
    });
    expect(tf.memory().numTensors).toBe(before);
    two.epochs.forEach((e, i) => {
      expect(e.loss).toBeCloseTo(one.epochs[i].loss, 4);
      expect(e.accuracy).toBe(one.epochs[i].accuracy);
    });
    expect(largestWeightDifference(single, parallel)).toBeLessThan(1e-3);
    single.dispose();
    parallel.dispose();
  });

  it('refuses a BatchNorm model, whose statistics would come from each shard alone', async () => {
    const bnPeers = await GradientPeers.start(
      { architecture: 'se-resnet18-bn', inputSize: 32, width: 8 },
      1,
    );
    const model = tinyModel('se-resnet18-bn');
    try {
      await expect(
        trainLocal(model, records, tinySettings(), {
          preprocessing: TINY_PREPROCESSING,
          peers: bnPeers,
        }),
      ).rejects.toThrow(/BatchNorm/);
    } finally {
      await bnPeers.close();
      model.dispose();
    }
  });

  it('refuses peers built for another model', async () => {
    const model = tinyModel('resnet18');
    try {
      await expect(
        trainLocal(model, records, tinySettings(), { preprocessing: TINY_PREPROCESSING, peers }),
      ).rejects.toThrow(/does not match/);
    } finally {
      model.dispose();
    }
  });

  it('fails with a clear error, not a hang, when its workers are gone', async () => {
    const gone = await GradientPeers.start(
      { architecture: 'se-resnet18-gn', inputSize: 32, width: 8 },
      1,
    );
    await gone.close();
    const model = tinyModel();
    const before = tf.memory().numTensors;
    try {
      await expect(
        trainLocal(model, records, tinySettings(), {
          preprocessing: TINY_PREPROCESSING,
          peers: gone,
        }),
      ).rejects.toThrow(/gradient workers are closed/);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
    }
  });

  it('reports a worker that died, fails the step clearly, and says it is no longer alive', async () => {
    const dying = await GradientPeers.start(
      { architecture: 'se-resnet18-gn', inputSize: 32, width: 8 },
      1,
    );
    expect(dying.alive).toBe(true);
    await dying.killWorkerForTest();
    expect(dying.alive).toBe(false);
    const model = tinyModel();
    try {
      await expect(
        trainLocal(model, records, tinySettings(), {
          preprocessing: TINY_PREPROCESSING,
          peers: dying,
        }),
      ).rejects.toThrow(/gradient worker has exited/);
    } finally {
      await dying.close();
      model.dispose();
    }
  });
});

function largestWeightDifference(a: tf.LayersModel, b: tf.LayersModel): number {
  const wb = getModelWeights(b);
  let worst = 0;
  getModelWeights(a).forEach((w, i) =>
    w.data.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - wb[i].data[j])))),
  );
  return worst;
}
