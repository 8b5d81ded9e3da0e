import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fedxrayProcess, fedxrayWith } from '../helpers/fedxray-process.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classWeightsFromCounts, loadDataset, SAMPLE_DATA_DIR } from '../../shared/data/index.ts';

const fedxray = fedxrayProcess;

/** `simulate` on the shipped sample into `out`, with `options`. */
function simulate(out: string, ...options: string[]): string[] {
  return ['simulate', '--data', SAMPLE_DATA_DIR, '--out', out, ...options];
}

/**
 * simulate() at toy scale (32 px, width 8, batch 8), with `clients` hospitals for `rounds`
 * rounds, then the `extra` options.
 */
function tinySimulate(out: string, clients: number, rounds: number, ...extra: string[]): string[] {
  return simulate(
    out,
    '--clients',
    String(clients),
    '--rounds',
    String(rounds),
    '--size',
    '32',
    '--width',
    '8',
    '--batch',
    '8',
    ...extra,
  );
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'fedxray-cli-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('fedxray CLI', () => {
  it('models --json lists every architecture with its parameter count', async () => {
    const { stdout, code } = await fedxray('models', '--json', '--size', '64');
    expect(code).toBe(0);
    const parsed = JSON.parse(stdout) as {
      architectures: { architecture: string; parameters: number }[];
    };
    const byName = Object.fromEntries(
      parsed.architectures.map((a) => [a.architecture, a.parameters]),
    );
    expect(Object.keys(byName)).toEqual([
      'se-resnet18-gn',
      'se-resnet18-bn',
      'resnet18',
      'alexnet',
      'vgg16',
    ]);
    expect(byName['se-resnet18-gn']).toBe(11_260_346);
  });

  it('answers bad usage with exit code 2 and a message naming the option', async () => {
    const bad = await fedxray(...simulate(work, '--clients', 'zero'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--clients must be an integer >= 1 <= 100, got "zero"/);
    const unknown = await fedxray('frobnicate');
    expect(unknown.code).toBe(2);
    const missing = await fedxray(
      'evaluate',
      '--model',
      join(work, 'nope'),
      '--data',
      SAMPLE_DATA_DIR,
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/No readable fedxray model/);
  });

  it('train --max-steps-per-epoch 0 is a usage error (exit code 2), before any training', async () => {
    const bad = await fedxray(
      'train',
      '--data',
      SAMPLE_DATA_DIR,
      '--out',
      join(work, 'steps-0'),
      '--max-steps-per-epoch',
      '0',
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--max-steps-per-epoch must be an integer >= 1, got "0"/);
    await expect(stat(join(work, 'steps-0'))).rejects.toThrow();
  });

  it('train --threads 2 trains data-parallel and says so in the report; BatchNorm refuses', async () => {
    const out = join(work, 'train-threads');
    const common = ['--data', SAMPLE_DATA_DIR, '--size', '32', '--width', '8', '--batch', '8'];
    const trained = await fedxray(
      'train',
      ...common,
      '--out',
      out,
      '--epochs',
      '1',
      '--limit',
      '24',
      '--threads',
      '2',
      '--json',
    );
    expect(trained.code, trained.stderr).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as {
      training: { kind: string; threads: number };
    };
    expect(report.training).toMatchObject({ kind: 'centralised', threads: 2 });
    const bn = await fedxray(
      'train',
      ...common,
      '--out',
      join(work, 'train-bn'),
      '--arch',
      'se-resnet18-bn',
      '--threads',
      '2',
    );
    expect(bn.code).toBe(2);
    expect(bn.stderr).toMatch(/se-resnet18-bn has BatchNorm/);
  });

  it('simulate --strategy fedavgm federates with server momentum and records it', async () => {
    const out = join(work, 'fedavgm');
    const sim = await fedxray(
      ...tinySimulate(
        out,
        2,
        2,
        '--limit',
        '32',
        '--strategy',
        'fedavgm',
        '--server-momentum',
        '0.8',
        '--json',
      ),
    );
    expect(sim.code, sim.stderr).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as {
      training: { strategy: Record<string, unknown>; roundsDetail: unknown[] };
    };
    expect(report.training.strategy).toEqual({
      name: 'fedavgm',
      fraction: 1,
      serverMomentum: 0.8,
      serverLearningRate: 1,
    });
    expect(report.training.roundsDetail).toHaveLength(2);
    const bad = await fedxray(...simulate(out, '--strategy', 'fedsgd'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--strategy/);
  });

  it("simulate --class-weights federation trains every hospital with the summed counts' weights", async () => {
    const out = join(work, 'federation-weights');
    const args = tinySimulate(
      out,
      2,
      1,
      '--limit',
      '32',
      '--alpha',
      '0.5',
      '--class-weights',
      'federation',
      '--json',
    );
    const sim = await fedxrayWith({ FEDXRAY_QUIET: '0' })(...args);
    expect(sim.code, sim.stderr).toBe(0);
    type Used = { source: string; counts: [number, number]; weights: [number, number] };
    const summary = JSON.parse(sim.stdout) as { classWeights: Used };
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as {
      training: { classWeights: Used; partitions: { images: number; pneumonia: number }[] };
    };
    const { partitions } = report.training;
    const counts = [
      partitions.reduce((s, p) => s + p.images - p.pneumonia, 0),
      partitions.reduce((s, p) => s + p.pneumonia, 0),
    ] as [number, number];
    const expected = {
      source: 'federation',
      counts,
      weights: classWeightsFromCounts(counts),
    };
    expect(summary.classWeights).toEqual(expected);
    expect(report.training.classWeights).toEqual(expected);
    const [w0, w1] = expected.weights;
    expect(sim.stderr).toContain(
      `class weights (federation-wide): NORMAL ${w0.toFixed(4)}, PNEUMONIA ${w1.toFixed(4)}, from the summed class counts of the 2 hospitals (${counts[0]} NORMAL, ${counts[1]} PNEUMONIA)`,
    );

    const bad = await fedxray(...simulate(out, '--class-weights', 'global'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--class-weights must be one of local, federation, got "global"/);
    const unweighted = await fedxray(
      ...simulate(out, '--class-weights', 'federation', '--class-balance', 'none'),
    );
    expect(unweighted.code).toBe(2);
    expect(unweighted.stderr).toMatch(/--class-weights federation needs --class-balance weights/);
  });

  it('simulate -> evaluate -> predict on the shipped sample', async () => {
    const out = join(work, 'model');
    const sim = await fedxray(
      ...tinySimulate(out, 3, 2, '--local-epochs', '1', '--val-fraction', '0.25', '--json'),
    );
    expect(sim.stderr).toBe('');
    expect(sim.code).toBe(0);
    const summary = JSON.parse(sim.stdout) as {
      history: { step: number; valAuc: number }[];
      classWeights: { source: string };
    };
    expect(summary.history.map((h) => h.step)).toEqual([1, 2]);
    expect(summary.classWeights).toEqual({ source: 'local' });
    for (const f of [
      'model.json',
      'weights.json',
      'weights.bin',
      'report.json',
      'accuracy.png',
      'loss.png',
    ]) {
      expect((await stat(join(out, f))).size).toBeGreaterThan(0);
    }
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as {
      training: {
        kind: string;
        classWeights: { source: string };
        partitions: { images: number }[];
        downloads: Record<string, number>;
      };
    };
    expect(report.training.kind).toBe('federated');
    expect(report.training.classWeights).toEqual({ source: 'local' });
    expect(report.training.partitions).toHaveLength(3);
    expect(Object.values(report.training.downloads)).toEqual([2, 2, 2]);

    const evaluation = await fedxray(
      'evaluate',
      '--model',
      out,
      '--data',
      join(out, 'validation'),
      '--json',
    );
    expect(evaluation.code).toBe(0);
    const metrics = JSON.parse(evaluation.stdout) as Record<string, unknown>;
    for (const key of [
      'accuracy',
      'precision',
      'recall',
      'specificity',
      'f1',
      'auc',
      'n',
      'confusion',
    ]) {
      expect(metrics).toHaveProperty(key);
    }
    const confusion = metrics.confusion as { tp: number; fp: number; tn: number; fn: number };
    expect(confusion.tp + confusion.fp + confusion.tn + confusion.fn).toBe(metrics.n);
    const ci95 = metrics.ci95 as Record<string, [number, number]>;
    for (const key of ['logLoss', 'brier', 'ece']) {
      const value = metrics[key] as number;
      expect(value, key).toBeGreaterThanOrEqual(0);
      expect(ci95[key][0], key).toBeLessThanOrEqual(value);
      expect(ci95[key][1], key).toBeGreaterThanOrEqual(value);
    }
    expect(metrics.brier as number).toBeLessThanOrEqual(1);

    const image = (await loadDataset(SAMPLE_DATA_DIR)).find((r) => r.label === 1)!.path;
    const predicted = await fedxray(
      'predict',
      '--model',
      out,
      '--json',
      image,
      join(work, 'missing.jpg'),
    );
    expect(predicted.code).toBe(1);
    const results = (
      JSON.parse(predicted.stdout) as {
        results: Array<{ label?: string; probability?: number; error?: string }>;
      }
    ).results;
    expect(['NORMAL', 'PNEUMONIA']).toContain(results[0].label);
    expect(results[0].probability).toBeGreaterThanOrEqual(0);
    expect(results[1].error).toBeTruthy();
  });

  it("simulate --calibration-fraction chooses the threshold on the hospitals' held-out splits", async () => {
    const out = join(work, 'calibrated');
    const sim = await fedxray(
      ...tinySimulate(
        out,
        2,
        1,
        '--val-fraction',
        '0.25',
        '--calibration-fraction',
        '0.2',
        '--threshold-rule',
        'min-recall:0.9',
        '--json',
      ),
    );
    expect(sim.stderr).toBe('');
    expect(sim.code).toBe(0);
    const model = JSON.parse(await readFile(join(out, 'model.json'), 'utf8')) as {
      threshold: { threshold: number; rule: string; description: string };
    };
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as {
      training: {
        calibrationFraction: number;
        calibration: { images: number; recall: number; threshold: { threshold: number } };
        partitions: { calibrationImages?: number }[];
      };
    };
    const c = report.training.calibration;
    expect(report.training.calibrationFraction).toBe(0.2);
    expect(model.threshold.rule).toBe('min-recall:0.9');
    expect(model.threshold.description).toMatch(/score histogram/);
    expect(model.threshold.threshold).toBe(c.threshold.threshold);
    expect(c.images).toBe(
      report.training.partitions.reduce((s, p) => s + (p.calibrationImages ?? 0), 0),
    );
    expect(c.recall).toBeGreaterThanOrEqual(0.9);
    // A temperature fitted on the same held-out splits, stored with the model and charted.
    const calibrated = JSON.parse(await readFile(join(out, 'model.json'), 'utf8')) as {
      calibration: { method: string; temperature: number; nllBefore: number; nllAfter: number };
    };
    expect(calibrated.calibration).toMatchObject({
      method: 'temperature',
      basis: { hospitals: 2, images: c.images },
    });
    expect(calibrated.calibration.temperature).toBeGreaterThan(0);
    expect(calibrated.calibration.nllAfter).toBeLessThanOrEqual(calibrated.calibration.nllBefore);
    expect((await stat(join(out, 'reliability.png'))).size).toBeGreaterThan(1000);
    expect(report.training.calibration).not.toHaveProperty('temperature');
  });

  it('bench --json reports speed, memory and a flat tensor count', async () => {
    const { stdout, code } = await fedxray(
      'bench',
      '--json',
      '--size',
      '32',
      '--width',
      '8',
      '--batch',
      '4',
      '--steps',
      '3',
    );
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as Record<string, number | string>;
    expect(result.backend).toBe('wasm');
    expect(result.trainImagesPerSecond).toBeGreaterThan(0);
    expect(result.inferImagesPerSecond).toBeGreaterThan(0);
    expect(result.tensorsAfter).toBe(result.tensorsBefore);
  });
});
