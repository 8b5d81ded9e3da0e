import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset, SAMPLE_DATA_DIR, type XrayRecord } from '../../shared/data/index.ts';
import {
  CheckpointMismatchError,
  directoryCheckpoint,
  fingerprint,
} from '../../shared/federated/checkpoint.ts';
import { runSimulation, type SimulationConfig } from '../../shared/federated/simulation.ts';
import { tf } from '../../shared/tf/tf.ts';
import { TINY_PREPROCESSING, tinyModel, tinySettings, useTestBackend } from '../helpers/tiny.ts';

let dir: string;
let records: XrayRecord[];
beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'fedxray-checkpoint-'));
  records = (await loadDataset(SAMPLE_DATA_DIR)).slice(0, 48);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const config: SimulationConfig = {
  clients: 2,
  rounds: 3,
  fraction: 1,
  maxDownloads: 3,
  partition: { scheme: 'iid', alpha: 1 },
  local: tinySettings({ epochs: 1, batchSize: 8 }),
  preprocessing: TINY_PREPROCESSING,
  seed: 3,
};

describe('simulation checkpoints', () => {
  it('a run interrupted after round 2 and resumed ends with the uninterrupted weights', async () => {
    const straightModel = tinyModel();
    const straight = await runSimulation(straightModel, records, [], config);
    straightModel.dispose();

    const store = directoryCheckpoint(join(dir, 'a'), fingerprint(config));
    const first = tinyModel();
    await expect(
      runSimulation(first, records, [], config, {
        checkpoint: store,
        onRoundEnd: (r) => {
          if (r.round === 2) throw new Error('killed after round 2');
        },
      }),
    ).rejects.toThrow('killed after round 2');
    first.dispose();
    expect((await store.load())?.round).toBe(2);

    const rounds: number[] = [];
    const second = tinyModel();
    const before = tf.memory().numTensors;
    const resumed = await runSimulation(second, records, [], config, {
      checkpoint: store,
      onRoundStart: (round) => rounds.push(round),
    });
    expect(tf.memory().numTensors).toBe(before);
    second.dispose();
    expect(rounds).toEqual([3]);
    expect(resumed.rounds.map((r) => r.round)).toEqual([1, 2, 3]);
    expect(resumed.downloads).toEqual(straight.downloads);
    expect(resumed.rounds[2].trainLoss).toBe(straight.rounds[2].trainLoss);
    resumed.weights.forEach((w, i) => expect(w.data).toEqual(straight.weights[i].data));
  });

  it('refuses a checkpoint of another configuration', async () => {
    const path = join(dir, 'b');
    const model = tinyModel();
    await runSimulation(
      model,
      records,
      [],
      { ...config, rounds: 1, maxDownloads: 1 },
      {
        checkpoint: directoryCheckpoint(path, fingerprint({ ...config, rounds: 1 })),
      },
    );
    await expect(
      runSimulation(model, records, [], config, {
        checkpoint: directoryCheckpoint(path, fingerprint(config)),
      }),
    ).rejects.toBeInstanceOf(CheckpointMismatchError);
    model.dispose();
  });

  it('the fingerprint ignores key order and absent fields but not values', () => {
    expect(fingerprint({ a: 1, b: { c: 2 } })).toBe(
      fingerprint({ b: { c: 2 }, a: 1, d: undefined }),
    );
    expect(fingerprint({ a: 1 })).not.toBe(fingerprint({ a: 2 }));
  });
});
