// Byzantine hospitals in the simulation: the attacks themselves, then a five-hospital
// federation on synthetic 32 px images where one attacker breaks FedAvg and the robust
// strategies keep close to the honest federation.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageCache, type XrayRecord } from '../../shared/data/index.ts';
import {
  attackedWeights,
  ByzantineTrainer,
  parseAttack,
  parseByzantinePlan,
} from '../../shared/federated/byzantine.ts';
import {
  InProcessTrainer,
  type ClientJob,
  type ClientTrainer,
} from '../../shared/federated/client-trainer.ts';
import { clientId, runSimulation } from '../../shared/federated/simulation.ts';
import { createStrategy, type StrategySpec } from '../../shared/federated/strategies.ts';
import { buildModel } from '../../shared/model/architectures.ts';
import type { WeightArray } from '../../shared/model/model-weights.ts';
import { tf } from '../../shared/tf/tf.ts';
import type { LocalTrainResult } from '../../shared/training/local-train.ts';
import { createRng } from '../../shared/util/random.ts';
import { TINY_PREPROCESSING, tinySettings, useTestBackend } from '../helpers/tiny.ts';

const HOSPITALS = Array.from({ length: 5 }, (_, i) => clientId(i));
const w = (values: number[]): WeightArray[] => [
  { name: 'k', shape: [values.length], data: Float32Array.from(values) },
];

/** Sends back the global model plus one and keeps the jobs it saw. */
class EchoTrainer implements ClientTrainer {
  readonly concurrency = 2;
  readonly jobs: ClientJob[] = [];
  async train(job: ClientJob): Promise<LocalTrainResult> {
    this.jobs.push(job);
    return {
      weights: job.global.map((g) => ({ ...g, data: g.data.map((v) => v + 1) })),
      numSamples: job.records.length,
      epochs: [],
      loss: 0.5,
      accuracy: 0.5,
      seconds: 0,
    };
  }
  async close(): Promise<void> {}
}

describe('the attacks', () => {
  it('parse from HOSPITAL:ATTACK[=PARAM] lists, naming what is wrong', () => {
    const plan = parseByzantinePlan(
      'hospital-1:label-flip, hospital-3:scale=4,hospital-5:noise',
      HOSPITALS,
    );
    expect([...plan]).toEqual([
      ['hospital-1', { kind: 'label-flip' }],
      ['hospital-3', { kind: 'scale', factor: 4 }],
      ['hospital-5', { kind: 'noise', sigma: 10 }],
    ]);
    expect(parseAttack('scale')).toEqual({ kind: 'scale', factor: -10 });
    expect(() => parseByzantinePlan('hospital-9:scale', HOSPITALS)).toThrow(
      '"hospital-9" is not a simulated hospital (hospital-1 to hospital-5)',
    );
    expect(() => parseByzantinePlan('hospital-1:scale,hospital-1:noise', HOSPITALS)).toThrow(
      'hospital-1 is named twice',
    );
    expect(() => parseByzantinePlan('hospital-1', HOSPITALS)).toThrow(/expected HOSPITAL:ATTACK/);
    expect(() => parseAttack('flip')).toThrow(
      'unknown attack "flip"; choose one of label-flip, scale, noise',
    );
    expect(() => parseAttack('noise=0')).toThrow(/sigma must be above 0/);
    expect(() => parseAttack('scale=x')).toThrow(/must be a number/);
    expect(() => parseAttack('label-flip=2')).toThrow(/no parameter/);
    expect(() =>
      parseByzantinePlan(HOSPITALS.map((h) => `${h}:noise`).join(','), HOSPITALS),
    ).toThrow(/at least one hospital must stay honest/);
  });

  it('scale sends w + s (w_local - w); noise w + sigma z, the same for the same seed', () => {
    const global = w([1, 2]);
    expect(
      Array.from(attackedWeights(global, w([2, 0]), { kind: 'scale', factor: -10 }, 1)[0].data),
    ).toEqual([-9, 22]);
    const big = w(new Array(4000).fill(0));
    const noisy = attackedWeights(big, big, { kind: 'noise', sigma: 10 }, 7)[0].data;
    const norm = Math.hypot(...noisy);
    expect(norm / Math.sqrt(4000)).toBeGreaterThan(9.5);
    expect(norm / Math.sqrt(4000)).toBeLessThan(10.5);
    expect(attackedWeights(big, big, { kind: 'noise', sigma: 10 }, 7)[0].data).toEqual(noisy);
    expect(attackedWeights(big, big, { kind: 'noise', sigma: 10 }, 8)[0].data).not.toEqual(noisy);
  });

  it("the trainer wrapper flips an attacker's labels and leaves honest jobs alone", async () => {
    const inner = new EchoTrainer();
    const trainer = new ByzantineTrainer(
      inner,
      parseByzantinePlan('hospital-2:label-flip,hospital-3:scale=3', HOSPITALS),
    );
    expect(trainer.concurrency).toBe(2);
    const records: XrayRecord[] = [
      { path: '/a.png', label: 0, patientId: 'a' },
      { path: '/b.png', label: 1, patientId: 'b' },
    ];
    const job = (id: string): ClientJob => ({
      clientId: id,
      records,
      global: w([0]),
      settings: tinySettings(),
      preprocessing: TINY_PREPROCESSING,
      schedule: { startEpoch: 0, totalEpochs: 1 },
    });
    expect(Array.from((await trainer.train(job('hospital-1'))).weights[0].data)).toEqual([1]);
    expect(Array.from((await trainer.train(job('hospital-2'))).weights[0].data)).toEqual([1]);
    expect(Array.from((await trainer.train(job('hospital-3'))).weights[0].data)).toEqual([3]);
    expect(inner.jobs.map((j) => j.records.map((r) => r.label))).toEqual([
      [0, 1],
      [1, 0],
      [0, 1],
    ]);
  });
});

// Horizontal stripes are PNEUMONIA, vertical NORMAL, under pixel noise: a tiny SE-ResNet learns
// it in three rounds of five hospitals, so what an attacker costs is plain to see.
const SIZE = 32;
async function stripes(dir: string, count: number, seed: number): Promise<XrayRecord[]> {
  const rng = createRng(seed);
  const records: XrayRecord[] = [];
  for (let i = 0; i < count; i++) {
    const label = (i % 2) as 0 | 1;
    const pixels = Buffer.alloc(SIZE * SIZE);
    for (let y = 0; y < SIZE; y++)
      for (let x = 0; x < SIZE; x++) {
        const on = Math.floor((label === 1 ? y : x) / 4) % 2 === 1;
        pixels[y * SIZE + x] = Math.max(
          0,
          Math.min(255, Math.round(128 + (on ? 60 : -60) + 15 * rng.normal())),
        );
      }
    const file = path.join(dir, `s${seed}-${i}.png`);
    await sharp(pixels, { raw: { width: SIZE, height: SIZE, channels: 1 } })
      .png()
      .toFile(file);
    records.push({ path: file, label, patientId: `s${seed}-${i}` });
  }
  return records;
}

describe('a federation with one Byzantine hospital of five', () => {
  let dir: string;
  let train: XrayRecord[];
  let val: XrayRecord[];
  const cache = new ImageCache();
  let honest: number;

  /** The final validation accuracy and AUC of three rounds under `strategy` and `attacks`. */
  async function federate(strategy: StrategySpec['name'], attacks = '') {
    const model = buildModel('se-resnet18-gn', { inputSize: SIZE, width: 8, seed: 3 });
    const tensors = tf.memory().numTensors;
    const inner = new InProcessTrainer(model, cache);
    const result = await runSimulation(
      model,
      train,
      val,
      {
        clients: 5,
        rounds: 3,
        fraction: 1,
        maxDownloads: 3,
        partition: { scheme: 'iid', alpha: 1 },
        local: tinySettings({
          batchSize: 4,
          learningRate: 5e-3,
          weightDecay: 0,
          schedule: 'constant',
        }),
        preprocessing: TINY_PREPROCESSING,
        seed: 5,
      },
      {
        strategy: createStrategy({ name: strategy, fraction: 1 }),
        trainer: attacks
          ? new ByzantineTrainer(inner, parseByzantinePlan(attacks, HOSPITALS))
          : inner,
        cache,
      },
    );
    expect(tf.memory().numTensors).toBe(tensors);
    model.dispose();
    const last = result.rounds[result.rounds.length - 1].val;
    if (!last) throw new Error('no validation score');
    return { accuracy: last.accuracy, auc: last.auc };
  }

  beforeAll(async () => {
    await useTestBackend();
    dir = await mkdtemp(path.join(tmpdir(), 'fedxray-byzantine-'));
    train = await stripes(dir, 60, 1);
    val = await stripes(dir, 30, 2);
    honest = (await federate('fedavg')).accuracy;
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('honest FedAvg learns the task', () => {
    expect(honest).toBeGreaterThanOrEqual(0.85);
  });

  it('FedAvg falls far below it under a scaled or a noise update', async () => {
    const scaled = await federate('fedavg', 'hospital-2:scale');
    const noisy = await federate('fedavg', 'hospital-2:noise');
    expect(scaled.accuracy).toBeLessThan(honest - 0.3);
    expect(scaled.auc).toBeLessThan(0.6);
    expect(noisy.accuracy).toBeLessThan(honest - 0.3);
  });

  it('median, trimmed-mean and krum stay within 0.1 of the honest federation', async () => {
    const runs = {
      'median, scale': await federate('median', 'hospital-2:scale'),
      'trimmed-mean, noise': await federate('trimmed-mean', 'hospital-2:noise'),
      'krum, scale': await federate('krum', 'hospital-2:scale'),
    };
    for (const [name, run] of Object.entries(runs))
      expect(run.accuracy, `${name}: ${run.accuracy} vs honest ${honest}`).toBeGreaterThanOrEqual(
        honest - 0.1,
      );
  });
});
