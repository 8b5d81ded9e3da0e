import { beforeAll, describe, expect, it } from 'vitest';
import {
  classWeights,
  classWeightsFromCounts,
  loadDataset,
  SAMPLE_DATA_DIR,
  type XrayRecord,
} from '../../shared/data/index.ts';
import type { ClientJob, ClientTrainer } from '../../shared/federated/client-trainer.ts';
import {
  clientSeed,
  runSimulation,
  type SimulationConfig,
} from '../../shared/federated/simulation.ts';
import type { LocalTrainResult } from '../../shared/training/local-train.ts';
import { TINY_PREPROCESSING, tinyModel, tinySettings, useTestBackend } from '../helpers/tiny.ts';

/** Records every job and sends the global model back untrained: the jobs are what is tested. */
class RecordingTrainer implements ClientTrainer {
  readonly concurrency = 1;
  readonly jobs: ClientJob[] = [];

  async train(job: ClientJob): Promise<LocalTrainResult> {
    this.jobs.push(job);
    return {
      weights: job.global.map((w) => ({ ...w, data: w.data.slice() })),
      numSamples: job.records.length,
      epochs: [],
      loss: 0,
      accuracy: 0,
      seconds: 0,
    };
  }

  async close(): Promise<void> {}
}

let records: XrayRecord[];
beforeAll(async () => {
  await useTestBackend();
  records = await loadDataset(SAMPLE_DATA_DIR);
});

// A skewed partition with calibration splits: the counts must be those trained on.
const config: SimulationConfig = {
  clients: 3,
  rounds: 2,
  fraction: 1,
  maxDownloads: 2,
  partition: { scheme: 'dirichlet', alpha: 0.5 },
  local: tinySettings(),
  preprocessing: TINY_PREPROCESSING,
  seed: 11,
  calibrationFraction: 0.2,
};

async function simulate(overrides: Partial<SimulationConfig>) {
  const model = tinyModel();
  const trainer = new RecordingTrainer();
  try {
    const result = await runSimulation(
      model,
      records,
      [],
      { ...config, ...overrides },
      { trainer },
    );
    return { result, jobs: trainer.jobs };
  } finally {
    model.dispose();
  }
}

describe('runSimulation class weights', () => {
  it("'federation' gives every hospital in every round the weights of the summed class counts", async () => {
    const { result, jobs } = await simulate({ classWeights: 'federation' });
    // The records each hospital trains on, as the jobs carry them (calibration splits excluded).
    const trained = new Map(jobs.map((j) => [j.clientId, j.records]));
    expect(trained.size).toBe(3);
    const counts: [number, number] = [0, 0];
    for (const share of trained.values()) for (const r of share) counts[r.label]++;
    expect(counts[0] + counts[1]).toBeLessThan(records.length); // held-out images not counted
    const expected = classWeightsFromCounts(counts);
    expect(result.classWeights).toEqual({ source: 'federation', counts, weights: expected });
    expect(jobs).toHaveLength(6);
    for (const job of jobs) expect(job.settings.classWeights).toEqual(expected);
    // The shares are skewed: a hospital's own weights would differ from the federation's.
    expect([...trained.values()].some((share) => classWeights(share)[1] !== expected[1])).toBe(
      true,
    );
    // The reported shares agree with the counts.
    expect(result.partitions.reduce((s, p) => s + p.pneumonia, 0)).toBe(counts[1]);
  });

  it("'local' (the default) leaves each hospital's settings as given", async () => {
    const plain = await simulate({});
    const local = await simulate({ classWeights: 'local' });
    expect(plain.result.classWeights).toEqual({ source: 'local' });
    expect(local.result.classWeights).toEqual({ source: 'local' });
    expect(local.jobs.map((j) => j.settings)).toEqual(plain.jobs.map((j) => j.settings));
    plain.jobs.forEach((job, i) => {
      expect(job.settings.classWeights).toBeUndefined();
      const index = Number(job.clientId.split('-')[1]) - 1;
      const round = Math.floor(i / 3) + 1;
      expect(job.settings).toEqual({
        ...config.local,
        seed: clientSeed(config.seed, round, index),
      });
    });
  });

  it("refuses 'federation' without class-weighted training", async () => {
    await expect(
      simulate({ classWeights: 'federation', local: tinySettings({ classBalancing: 'none' }) }),
    ).rejects.toThrow(/classWeights 'federation' needs classBalancing 'weights'/);
  });
});
