import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset, SAMPLE_DATA_DIR, type XrayRecord } from '../../shared/data/index.ts';
import { DownloadLedger } from '../../shared/federated/download-ledger.ts';
import { clientsPerRound, FedAvg, weightedAverage } from '../../shared/federated/fedavg.ts';
import { inMemoryWeights } from '../../shared/federated/strategy-utils.ts';
import { clientSeed, runSimulation } from '../../shared/federated/simulation.ts';
import { getModelWeights, type WeightArray } from '../../shared/model/model-weights.ts';
import { trainLocal } from '../../shared/training/local-train.ts';
import { createRng } from '../../shared/util/random.ts';
import { TINY_PREPROCESSING, tinyModel, tinySettings, useTestBackend } from '../helpers/tiny.ts';

beforeAll(useTestBackend);

const w = (name: string, values: number[]): WeightArray => ({
  name,
  shape: [values.length],
  data: Float32Array.from(values),
});

describe('FedAvg', () => {
  it('averaging identical models returns them', async () => {
    const weights = [w('a', [1.5, -2, 3e-3]), w('b', [7])];
    const result = await weightedAverage(weights, [
      { clientId: 'h1', numSamples: 10, weights: inMemoryWeights(weights) },
      { clientId: 'h2', numSamples: 30, weights: inMemoryWeights(weights) },
      { clientId: 'h3', numSamples: 1, weights: inMemoryWeights(weights) },
    ]);
    expect(result.map((r) => Array.from(r.data))).toEqual(weights.map((r) => Array.from(r.data)));
  });

  it('sample counts 3:1 give the exact weighted mean n_j / n', async () => {
    const result = await weightedAverage(
      [w('a', [0, 0])],
      [
        { clientId: 'h1', numSamples: 300, weights: inMemoryWeights([w('a', [1, 10])]) },
        { clientId: 'h2', numSamples: 100, weights: inMemoryWeights([w('a', [5, -2])]) },
      ],
    );
    expect(Array.from(result[0].data)).toEqual([0.75 * 1 + 0.25 * 5, 0.75 * 10 + 0.25 * -2]);
  });

  it('rejects a result that lacks a weight', async () => {
    await expect(
      weightedAverage(
        [w('a', [0]), w('b', [0])],
        [{ clientId: 'h9', numSamples: 1, weights: inMemoryWeights([w('a', [1])]) }],
      ),
    ).rejects.toThrow(/h9 sent no weight b/);
    await expect(weightedAverage([w('a', [0])], [])).rejects.toThrow(/no client results/);
  });

  it('samples m = max(round(C x J), 1) distinct hospitals per round, reproducibly', () => {
    expect(clientsPerRound(0.1, 3)).toBe(1);
    expect(clientsPerRound(0.5, 3)).toBe(2);
    expect(clientsPerRound(1, 3)).toBe(3);
    expect(clientsPerRound(0.3, 10)).toBe(3);
    const clients = Array.from({ length: 10 }, (_, i) => ({ id: `h${i}`, numSamples: 10 }));
    const strategy = new FedAvg({ fraction: 0.3 });
    const a = strategy.configureFit(1, clients, createRng(3)).map((f) => f.clientId);
    const b = strategy.configureFit(1, clients, createRng(3)).map((f) => f.clientId);
    expect(a).toHaveLength(3);
    expect(new Set(a).size).toBe(3);
    expect(a).toEqual(b);
    expect(() => new FedAvg({ fraction: 0 })).toThrow(/fraction/);
  });

  it('one hospital with C = 1 equals local training with the same seed', async () => {
    const records: XrayRecord[] = (await loadDataset(SAMPLE_DATA_DIR)).slice(0, 24);
    const settings = tinySettings({ epochs: 1 });
    const federatedModel = tinyModel('se-resnet18-gn', 3);
    const federated = await runSimulation(federatedModel, records, [], {
      clients: 1,
      rounds: 1,
      fraction: 1,
      maxDownloads: 1,
      partition: { scheme: 'iid', alpha: 1 },
      local: settings,
      preprocessing: TINY_PREPROCESSING,
      seed: 11,
    });
    const localModel = tinyModel('se-resnet18-gn', 3);
    const local = await trainLocal(
      localModel,
      records,
      { ...settings, seed: clientSeed(11, 1, 0) },
      {
        preprocessing: TINY_PREPROCESSING,
        schedule: { startEpoch: 0, totalEpochs: 1 },
      },
    );
    expect(federated.weights.map((x) => x.name)).toEqual(local.weights.map((x) => x.name));
    federated.weights.forEach((fw, i) =>
      expect(Array.from(fw.data)).toEqual(Array.from(local.weights[i].data)),
    );
    // Training did change the model.
    expect(Array.from(getModelWeights(tinyModel('se-resnet18-gn', 3))[0].data)).not.toEqual(
      Array.from(local.weights[0].data),
    );
    federatedModel.dispose();
    localModel.dispose();
  });
});

describe('DownloadLedger (S_max)', () => {
  it('counts downloads per hospital and refuses past the limit', () => {
    const ledger = new DownloadLedger(2);
    expect(ledger.record('h1')).toBe(1);
    expect(ledger.record('h1')).toBe(2);
    expect(ledger.canDownload('h1')).toBe(false);
    expect(ledger.canDownload('h2')).toBe(true);
    expect(() => ledger.record('h1')).toThrow(/S_max = 2/);
    expect(ledger.snapshot()).toEqual({ h1: 2 });
  });

  it('a simulation stops sampling a hospital that reached S_max', async () => {
    const records = (await loadDataset(SAMPLE_DATA_DIR)).slice(0, 16);
    const model = tinyModel();
    await expect(
      runSimulation(model, records, [], {
        clients: 1,
        rounds: 2,
        fraction: 1,
        maxDownloads: 1,
        partition: { scheme: 'iid', alpha: 1 },
        local: tinySettings({ batchSize: 16 }),
        preprocessing: TINY_PREPROCESSING,
        seed: 1,
      }),
    ).rejects.toThrow(/Round 2: no hospital may download/);
    model.dispose();
  });
});
