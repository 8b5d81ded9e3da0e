import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPredictorDir, writeEnsembleDir } from '../../shared/model/ensemble.ts';
import { loadModelDir } from '../../shared/model/model-dir.ts';
import { tf } from '../../shared/tf/tf.ts';
import { predictBatch } from '../../shared/training/predict.ts';
import { createRng } from '../../shared/util/random.ts';
import { writeTinyModelDir } from '../inference-api/fixtures.ts';
import { useTestBackend } from '../helpers/tiny.ts';

const SIZE = 32;
let root: string;

function batch(count: number): Float32Array {
  const rng = createRng(11);
  return Float32Array.from({ length: count * SIZE * SIZE }, () => rng.normal());
}

beforeAll(async () => {
  await useTestBackend();
  root = await mkdtemp(join(tmpdir(), 'fedxray-ensemble-'));
  await writeTinyModelDir(join(root, 'a'), 1);
  await writeTinyModelDir(join(root, 'b'), 2);
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('ensembles', () => {
  it('score the mean of their members and free every tensor', async () => {
    await writeEnsembleDir(join(root, 'ens'), [join(root, 'a'), join(root, 'b')]);
    const xs = batch(3);
    const expected = new Float32Array(3);
    for (const dir of ['a', 'b']) {
      const { model } = await loadModelDir(join(root, dir));
      predictBatch(model, xs, 3, SIZE).forEach((p, i) => (expected[i] += p / 2));
      model.dispose();
    }
    const before = tf.memory().numTensors;
    const predictor = await loadPredictorDir(join(root, 'ens'));
    expect(predictor.networks).toHaveLength(2);
    expect(predictor.metadata.training?.kind).toBe('ensemble');
    const first = predictor.score(xs, 3, SIZE);
    const during = tf.memory().numTensors;
    predictor.score(xs, 3, SIZE);
    expect(tf.memory().numTensors).toBe(during);
    for (let i = 0; i < 3; i++) expect(first[i]).toBeCloseTo(expected[i], 6);
    predictor.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a plain model directory loads as an ensemble of one', async () => {
    const predictor = await loadPredictorDir(join(root, 'a'));
    const { model } = await loadModelDir(join(root, 'a'));
    const xs = batch(2);
    expect(predictor.score(xs, 2, SIZE)).toEqual(predictBatch(model, xs, 2, SIZE));
    model.dispose();
    predictor.dispose();
  });

  it('refuses members that read images differently, and loadModelDir refuses an ensemble', async () => {
    await writeTinyModelDir(join(root, 'c'), 3);
    const metaFile = join(root, 'c', 'model.json');
    const meta = JSON.parse(await readFile(metaFile, 'utf8'));
    meta.preprocessing.equalize = true;
    await writeFile(metaFile, JSON.stringify(meta));
    await expect(
      writeEnsembleDir(join(root, 'bad'), [join(root, 'a'), join(root, 'c')]),
    ).rejects.toThrow(/reads images unlike/);
    await expect(writeEnsembleDir(join(root, 'one'), [join(root, 'a')])).rejects.toThrow(
      /two members/,
    );
    await writeEnsembleDir(join(root, 'ens2'), [join(root, 'a'), join(root, 'b')]);
    await expect(loadModelDir(join(root, 'ens2'))).rejects.toThrow(/is an ensemble of 2 models/);
  });
});
