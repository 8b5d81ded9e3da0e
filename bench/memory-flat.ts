/**
 * tf.memory().numTensors over many training steps (default 100) of se-resnet18-gn through the
 * real training loop (trainLocal on the shipped sample): it must not grow.
 *
 *   npx tsx bench/memory-flat.ts [--steps 100] [--size 64] [--batch 8]
 */
import { parseArgs } from 'node:util';
import { loadDataset, SAMPLE_DATA_DIR } from '../shared/data/index.ts';
import { buildModel } from '../shared/model/architectures.ts';
import { initBackend } from '../shared/tf/backend.ts';
import { tf } from '../shared/tf/tf.ts';
import { trainLocal } from '../shared/training/local-train.ts';
import { DEFAULT_TRAIN_SETTINGS } from '../shared/training/settings.ts';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '100' },
    size: { type: 'string', default: '64' },
    batch: { type: 'string', default: '8' },
  },
});
process.env.FEDXRAY_QUIET = '1';
const backend = await initBackend();
const size = Number(values.size);
const batchSize = Number(values.batch);
const steps = Number(values.steps);
const records = await loadDataset(SAMPLE_DATA_DIR);
const stepsPerEpoch = Math.ceil(records.length / batchSize);
const model = buildModel('se-resnet18-gn', { inputSize: size });
const before = tf.memory().numTensors;
const samples: number[] = [];
const started = performance.now();
await trainLocal(
  model,
  records,
  { ...DEFAULT_TRAIN_SETTINGS, epochs: Math.ceil(steps / stepsPerEpoch), batchSize },
  {
    preprocessing: { inputSize: size, normalization: 'per-image', equalize: false },
    onProgress: () => samples.push(tf.memory().numTensors),
  },
);
const seconds = (performance.now() - started) / 1000;
const after = tf.memory().numTensors;
const result = {
  backend: backend.name,
  size,
  batchSize,
  steps: samples.length,
  numTensorsBefore: before,
  numTensorsAfter: after,
  numTensorsDuringSteps: { min: Math.min(...samples), max: Math.max(...samples) },
  flat: after === before && Math.min(...samples) === Math.max(...samples),
  rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
  seconds,
};
process.stdout.write(JSON.stringify(result, null, 2) + '\n\n');
process.stdout.write(
  `| steps | numTensors before | during (min..max) | after | flat |\n|---:|---:|---|---:|---|\n| ${result.steps} | ${before} | ${result.numTensorsDuringSteps.min}..${result.numTensorsDuringSteps.max} | ${after} | ${result.flat ? 'yes' : 'NO'} |\n`,
);
model.dispose();
