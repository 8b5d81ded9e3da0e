import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset, SAMPLE_DATA_DIR, type XrayRecord } from '../../shared/data/index.ts';
import {
  CORRUPTIONS,
  findCorruption,
  readGray,
  type GrayImage,
} from '../../shared/robustness/corruptions.ts';
import { formatCorruptionTable, runCorruptionSuite } from '../../shared/robustness/suite.ts';
import { tf } from '../../shared/tf/tf.ts';
import { createRng } from '../../shared/util/random.ts';
import { TINY_PREPROCESSING, tinyModel, useTestBackend } from '../helpers/tiny.ts';

let records: XrayRecord[];
let image: GrayImage;
beforeAll(async () => {
  await useTestBackend();
  const all = await loadDataset(SAMPLE_DATA_DIR);
  records = [
    ...all.filter((r) => r.label === 0).slice(0, 4),
    ...all.filter((r) => r.label === 1).slice(0, 4),
  ];
  image = await readGray(records[0].path);
});

const meanAbsDiff = (a: GrayImage, b: GrayImage): number => {
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i] - b.data[i]);
  return sum / a.data.length;
};

describe('corruptions', () => {
  it('has thirteen distinct acquisition changes with three severities each', () => {
    expect(CORRUPTIONS.map((c) => c.name)).toEqual([
      'contrast',
      'gamma',
      'exposure',
      'noise',
      'blur',
      'downsample',
      'jpeg',
      'crop',
      'zoom-out',
      'shift',
      'rotation',
      'marker',
      'border',
    ]);
    for (const c of CORRUPTIONS) expect(c.severities).toHaveLength(3);
    expect(() => findCorruption('fog')).toThrow(/unknown corruption fog/);
  });

  it('each keeps the size, changes the image, more at each severity, and is deterministic', async () => {
    for (const c of CORRUPTIONS) {
      const diffs: number[] = [];
      for (const level of c.severities) {
        const out = await c.apply(image, level, createRng(3));
        expect([out.width, out.height, out.data.length], c.name).toEqual([
          image.width,
          image.height,
          image.data.length,
        ]);
        const again = await c.apply(image, level, createRng(3));
        expect(again.data, c.name).toEqual(out.data);
        diffs.push(meanAbsDiff(image, out));
      }
      expect(diffs[0], c.name).toBeGreaterThan(0.1);
      // Rotation and shift fill with black, so the change grows with the severity for all.
      expect(diffs[2], c.name).toBeGreaterThan(diffs[0]);
    }
  });

  it('leaves the input untouched', async () => {
    const before = image.data.slice();
    for (const c of CORRUPTIONS) await c.apply(image, c.severities[2], createRng(1));
    expect(image.data).toEqual(before);
  });
});

describe('runCorruptionSuite', () => {
  it('scores every condition through the model, keeps tensors flat and summarises them', async () => {
    const model = tinyModel();
    const corruptions = [findCorruption('gamma'), findCorruption('border')];
    const before = tf.memory().numTensors;
    const seen: number[] = [];
    const result = await runCorruptionSuite(model, records, TINY_PREPROCESSING, 0.5, {
      corruptions,
      onProgress: (done) => seen.push(done),
    });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(result.n).toBe(8);
    expect(result.scores.map((s) => `${s.corruption}:${s.severity}`)).toEqual([
      'gamma:1',
      'gamma:2',
      'gamma:3',
      'border:1',
      'border:2',
      'border:3',
    ]);
    for (const s of [result.clean, ...result.scores]) {
      expect(s.auc).toBeGreaterThanOrEqual(0);
      expect(s.auc).toBeLessThanOrEqual(1);
    }
    const mean = result.scores.reduce((sum, s) => sum + s.auc, 0) / 6;
    expect(result.meanAuc).toBeCloseTo(mean, 12);
    expect(formatCorruptionTable(result)).toContain('| border |');
  });

  it('refuses an empty set of images', async () => {
    const model = tinyModel();
    await expect(runCorruptionSuite(model, [], TINY_PREPROCESSING, 0.5)).rejects.toThrow(
      RangeError,
    );
    model.dispose();
  });
});
