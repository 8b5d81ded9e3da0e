import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset, SAMPLE_DATA_DIR, type XrayRecord } from '../../shared/data/index.ts';
import { InProcessTrainer, type ClientJob } from '../../shared/federated/client-trainer.ts';
import { runSimulation, type SimulationConfig } from '../../shared/federated/simulation.ts';
import { WorkerPoolTrainer } from '../../shared/federated/worker-trainer.ts';
import { getModelWeights } from '../../shared/model/model-weights.ts';
import { tf } from '../../shared/tf/tf.ts';
import type { LocalTrainResult } from '../../shared/training/local-train.ts';
import { TINY_PREPROCESSING, tinyModel, tinySettings, useTestBackend } from '../helpers/tiny.ts';

let records: XrayRecord[];
beforeAll(async () => {
  await useTestBackend();
  records = (await loadDataset(SAMPLE_DATA_DIR)).slice(0, 48);
});

const config: SimulationConfig = {
  clients: 3,
  rounds: 2,
  fraction: 1,
  maxDownloads: 2,
  partition: { scheme: 'iid', alpha: 1 },
  local: tinySettings({ augment: true }),
  preprocessing: TINY_PREPROCESSING,
  seed: 5,
};

describe('WorkerPoolTrainer', () => {
  it('trains hospitals in parallel threads with the same result as in-process training', async () => {
    const sequentialModel = tinyModel();
    const sequential = await runSimulation(sequentialModel, records, [], config);
    const parallelModel = tinyModel();
    const pool = new WorkerPoolTrainer(
      { architecture: 'se-resnet18-gn', inputSize: 32, width: 8 },
      2,
    );
    const before = tf.memory().numTensors;
    try {
      const parallel = await runSimulation(parallelModel, records, [], config, { trainer: pool });
      parallel.weights.forEach((w, i) =>
        expect(Array.from(w.data)).toEqual(Array.from(sequential.weights[i].data)),
      );
      expect(parallel.rounds.map((r) => r.selected)).toEqual(
        sequential.rounds.map((r) => r.selected),
      );
    } finally {
      await pool.close();
    }
    expect(tf.memory().numTensors).toBe(before);
    sequentialModel.dispose();
    parallelModel.dispose();
  });

  it("passes a federation's class weights to the worker's local training", async () => {
    // Both classes, so that the weights change the loss other than by a constant factor.
    const all = await loadDataset(SAMPLE_DATA_DIR);
    const mixed = [
      ...all.filter((r) => r.label === 0).slice(0, 8),
      ...all.filter((r) => r.label === 1).slice(0, 8),
    ];
    const initial = tinyModel();
    const local = tinyModel();
    const job = (classWeights?: [number, number]): ClientJob => ({
      clientId: 'hospital-1',
      records: mixed,
      global: getModelWeights(initial),
      settings: tinySettings({ classWeights }),
      preprocessing: TINY_PREPROCESSING,
      schedule: { startEpoch: 0, totalEpochs: 1 },
    });
    const pool = new WorkerPoolTrainer(
      { architecture: 'se-resnet18-gn', inputSize: 32, width: 8 },
      1,
    );
    try {
      const firstWeights = (r: LocalTrainResult): number[] => Array.from(r.weights[0].data);
      const inProcess = await new InProcessTrainer(local).train(job([5, 0.1]));
      const inWorker = await pool.train(job([5, 0.1]));
      expect(firstWeights(inWorker)).toEqual(firstWeights(inProcess));
      const own = await pool.train(job());
      expect(firstWeights(own)).not.toEqual(firstWeights(inWorker));
    } finally {
      await pool.close();
      initial.dispose();
      local.dispose();
    }
  });

  it('reports a failing job as an error naming the hospital', async () => {
    const pool = new WorkerPoolTrainer(
      { architecture: 'se-resnet18-gn', inputSize: 32, width: 8 },
      1,
    );
    try {
      await expect(
        pool.train({
          clientId: 'hospital-9',
          records: [],
          global: [],
          settings: tinySettings(),
          preprocessing: TINY_PREPROCESSING,
          schedule: { startEpoch: 0, totalEpochs: 1 },
        }),
      ).rejects.toThrow(/hospital-9: Weights do not fit/);
    } finally {
      await pool.close();
    }
  });
});
