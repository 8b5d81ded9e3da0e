import { beforeAll, describe, expect, it } from 'vitest';
import {
  classWeights,
  ImageCache,
  loadDataset,
  SAMPLE_DATA_DIR,
  type XrayRecord,
} from '../../shared/data/index.ts';
import { getModelWeights, type WeightArray } from '../../shared/model/model-weights.ts';
import { learningRateAt } from '../../shared/training/lr-schedule.ts';
import { trainLocal, type TrainProgress } from '../../shared/training/local-train.ts';
import { predictRecords } from '../../shared/training/predict.ts';
import { validateTrainSettings } from '../../shared/training/settings.ts';
import { tf } from '../../shared/tf/tf.ts';
import { TINY_PREPROCESSING, tinyModel, tinySettings, useTestBackend } from '../helpers/tiny.ts';

let records: XrayRecord[];
beforeAll(async () => {
  await useTestBackend();
  records = await loadDataset(SAMPLE_DATA_DIR);
});

describe('trainLocal', () => {
  it('keeps tf.memory().numTensors flat and reports progress', async () => {
    for (const [arch, optimizer] of [
      ['se-resnet18-gn', 'adam'],
      ['se-resnet18-bn', 'sgd'],
    ] as const) {
      const model = tinyModel(arch);
      const before = tf.memory().numTensors;
      const progress: TrainProgress[] = [];
      const result = await trainLocal(
        model,
        records.slice(0, 40),
        tinySettings({ epochs: 2, optimizer, augment: true }),
        {
          preprocessing: TINY_PREPROCESSING,
          onProgress: (p) => progress.push(p),
        },
      );
      expect(tf.memory().numTensors).toBe(before);
      expect(progress).toHaveLength(2 * 5);
      expect(progress.at(-1)).toMatchObject({
        epoch: 2,
        epochs: 2,
        step: 5,
        stepsPerEpoch: 5,
        images: 40,
      });
      expect(result.numSamples).toBe(40);
      expect(result.epochs).toHaveLength(2);
      expect(Number.isFinite(result.loss)).toBe(true);
      model.dispose();
    }
  });

  it('stops each epoch after settings.maxStepsPerEpoch steps, and refuses a bad cap', async () => {
    const model = tinyModel();
    const progress: TrainProgress[] = [];
    const result = await trainLocal(
      model,
      records.slice(0, 40),
      tinySettings({ epochs: 2, maxStepsPerEpoch: 2 }),
      { preprocessing: TINY_PREPROCESSING, onProgress: (p) => progress.push(p) },
    );
    expect(progress).toHaveLength(2 * 2);
    expect(progress.at(-1)).toMatchObject({ epoch: 2, step: 2, stepsPerEpoch: 2, images: 16 });
    expect(result.epochs.map((e) => e.images)).toEqual([16, 16]);
    // FedAvg still weighs the hospital by its images, not by the steps it took.
    expect(result.numSamples).toBe(40);
    for (const bad of [0, 1.5])
      await expect(
        trainLocal(model, records.slice(0, 40), tinySettings({ maxStepsPerEpoch: bad }), {
          preprocessing: TINY_PREPROCESSING,
        }),
      ).rejects.toThrow(/max steps per epoch must be a positive integer/);
    model.dispose();
  });

  it('learns: training loss falls on a small real sample', async () => {
    const model = tinyModel();
    const subset = records.slice(0, 48);
    const result = await trainLocal(
      model,
      subset,
      tinySettings({ epochs: 6, learningRate: 3e-3, labelSmoothing: 0 }),
      {
        preprocessing: TINY_PREPROCESSING,
      },
    );
    expect(result.epochs.at(-1)!.loss).toBeLessThan(result.epochs[0].loss);
    const predictions = await predictRecords(model, subset, TINY_PREPROCESSING);
    expect(predictions.probabilities).toHaveLength(48);
    expect(predictions.probabilities.every((p) => p >= 0 && p <= 1)).toBe(true);
    model.dispose();
  });

  it('is deterministic for a seed', async () => {
    const run = async () => {
      const model = tinyModel();
      const r = await trainLocal(model, records.slice(0, 16), tinySettings({ augment: true }), {
        preprocessing: TINY_PREPROCESSING,
      });
      model.dispose();
      return Array.from(r.weights[0].data.slice(0, 50));
    };
    expect(await run()).toEqual(await run());
  });

  it("uses given class weights (a federation's) instead of the local ones", async () => {
    const subset = records.slice(0, 16);
    const run = async (classWeights?: [number, number]) => {
      const model = tinyModel();
      const r = await trainLocal(model, subset, tinySettings({ classWeights }), {
        preprocessing: TINY_PREPROCESSING,
      });
      model.dispose();
      return Array.from(r.weights[0].data.slice(0, 50));
    };
    const local = await run();
    expect(await run(classWeights(subset))).toEqual(local);
    expect(await run([5, 0.1])).not.toEqual(local);
  });

  it('rejects bad settings and empty data with clear errors', async () => {
    const model = tinyModel();
    await expect(
      trainLocal(model, [], tinySettings(), { preprocessing: TINY_PREPROCESSING }),
    ).rejects.toThrow(/empty dataset/);
    await expect(
      trainLocal(model, records, tinySettings({ batchSize: 0 }), {
        preprocessing: TINY_PREPROCESSING,
      }),
    ).rejects.toThrow(/batch size/);
    await expect(
      trainLocal(model, records, tinySettings({ learningRate: -1 }), {
        preprocessing: TINY_PREPROCESSING,
      }),
    ).rejects.toThrow(/learning rate/);
    await expect(
      trainLocal(model, records, tinySettings({ classWeights: [0, 0] }), {
        preprocessing: TINY_PREPROCESSING,
      }),
    ).rejects.toThrow(/class weights/);
    model.dispose();
  });
});

describe('FedProx proximal term (settings.proximalMu)', () => {
  /** Trains a fresh seed-1 tiny model and returns its weights before and after, and the run. */
  const run = async (proximalMu?: number) => {
    const model = tinyModel();
    const initial = getModelWeights(model);
    const progress: TrainProgress[] = [];
    const before = tf.memory().numTensors;
    const result = await trainLocal(
      model,
      records.slice(0, 24),
      tinySettings({ epochs: 2, proximalMu }),
      { preprocessing: TINY_PREPROCESSING, onProgress: (p) => progress.push(p) },
    );
    const tensorsLeft = tf.memory().numTensors - before;
    model.dispose();
    return { initial, result, progress, tensorsLeft };
  };
  const values = (weights: WeightArray[]) => weights.flatMap((w) => Array.from(w.data));
  const distance = (a: WeightArray[], b: WeightArray[]) => {
    const x = values(a);
    const y = values(b);
    return Math.sqrt(x.reduce((sum, v, i) => sum + (v - y[i]) ** 2, 0));
  };

  it('mu = 0 trains exactly as without the field', async () => {
    const plain = await run();
    const zero = await run(0);
    expect(values(zero.result.weights)).toEqual(values(plain.result.weights));
    expect(zero.result.epochs.map((e) => e.loss)).toEqual(plain.result.epochs.map((e) => e.loss));
  });

  it('a large mu keeps the weights near the starting ones, reports the data loss, and keeps tensors flat', async () => {
    const plain = await run();
    const prox = await run(100);
    expect(prox.tensorsLeft).toBe(0);
    expect(values(prox.initial)).toEqual(values(plain.initial));
    const plainDrift = distance(plain.result.weights, plain.initial);
    const proxDrift = distance(prox.result.weights, prox.initial);
    expect(plainDrift).toBeGreaterThan(0);
    expect(proxDrift).toBeGreaterThan(0);
    expect(proxDrift).toBeLessThan(0.5 * plainDrift);
    // Step 1 starts at the anchor, where the term and its gradient are 0, so both runs take
    // the same first step and see the same data loss at step 2; a reported total (data +
    // proximal) loss would be larger there.
    expect(prox.progress[1].loss).toBe(plain.progress[1].loss);
    for (const e of prox.result.epochs) {
      expect(Number.isFinite(e.loss)).toBe(true);
      expect(e.loss).toBeGreaterThan(0);
      expect(e.loss).toBeLessThan(5);
    }
  });

  it('refuses a negative, NaN or huge mu', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, 1000])
      expect(() => validateTrainSettings(tinySettings({ proximalMu: bad }))).toThrow(
        /proximal mu must be a finite number >= 0/,
      );
    expect(() => validateTrainSettings(tinySettings({ proximalMu: 0 }))).not.toThrow();
    expect(() => validateTrainSettings(tinySettings({ proximalMu: 0.01 }))).not.toThrow();
  });
});

describe('learning-rate schedule', () => {
  it('cosine decays from the base rate to 1% of it, warm-up ramps up', () => {
    const spec = { kind: 'cosine' as const, baseRate: 0.1, totalEpochs: 10, warmupEpochs: 0 };
    expect(learningRateAt(spec, 0)).toBeCloseTo(0.1);
    expect(learningRateAt(spec, 5)).toBeCloseTo(0.1 * (0.01 + 0.99 * 0.5));
    expect(learningRateAt(spec, 10)).toBeCloseTo(0.001);
    const warm = { ...spec, warmupEpochs: 2 };
    expect(learningRateAt(warm, 0)).toBeCloseTo(0.01);
    expect(learningRateAt(warm, 1)).toBeCloseTo(0.055);
    expect(learningRateAt({ ...spec, kind: 'step' }, 6)).toBeCloseTo(0.01);
    expect(learningRateAt({ ...spec, kind: 'constant' }, 9)).toBe(0.1);
  });
});

describe('trainLocal and the event loop', () => {
  it('lets timers run between steps, even with every image cached', async () => {
    const cache = new ImageCache();
    const some = records.slice(0, 32);
    const settings = tinySettings({ epochs: 2, batchSize: 4 });
    const model = tinyModel('se-resnet18-gn', 5);
    try {
      // The first epoch fills the cache; the second reads only settled promises.
      let ticks = 0;
      let ticksAtEpoch2 = -1;
      const timer = setInterval(() => ticks++, 0);
      await trainLocal(model, some, settings, {
        preprocessing: TINY_PREPROCESSING,
        cache,
        onProgress: (p) => {
          if (p.epoch === 2 && ticksAtEpoch2 < 0) ticksAtEpoch2 = ticks;
        },
      });
      clearInterval(timer);
      // 8 steps in the cached epoch: a node answering /health between them sees its timers run.
      expect(ticks - ticksAtEpoch2).toBeGreaterThanOrEqual(4);
    } finally {
      model.dispose();
    }
  });
});
