/**
 * Training speed of data-parallel training (shared/training/data-parallel.ts) against one
 * thread: the real training loop (trainLocal on the shipped sample, images cached after the
 * warm-up) for each architecture and thread count. Prints JSON, then a Markdown table.
 *
 *   npx tsx bench/data-parallel.ts [--arch se-resnet18-gn,alexnet,vgg16] [--threads 1,2]
 *       [--size 64] [--batch 16] [--steps 6]
 *
 * Run it on a quiet machine: every thread wants a core of its own.
 */
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { ImageCache, loadDataset, SAMPLE_DATA_DIR } from '../shared/data/index.ts';
import { buildModel, usesBatchNorm } from '../shared/model/architectures.ts';
import { initBackend } from '../shared/tf/backend.ts';
import { tf } from '../shared/tf/tf.ts';
import { GradientPeers } from '../shared/training/data-parallel.ts';
import { trainLocal } from '../shared/training/local-train.ts';
import { DEFAULT_TRAIN_SETTINGS } from '../shared/training/settings.ts';

const { values } = parseArgs({
  options: {
    arch: { type: 'string', default: 'se-resnet18-gn,alexnet,vgg16' },
    threads: { type: 'string', default: '1,2' },
    size: { type: 'string', default: '64' },
    batch: { type: 'string', default: '16' },
    steps: { type: 'string', default: '6' },
  },
});
process.env.FEDXRAY_QUIET = '1';
const backend = await initBackend();
const size = Number(values.size);
const batchSize = Number(values.batch);
const steps = Number(values.steps);
const records = await loadDataset(SAMPLE_DATA_DIR);
const preprocessing = { inputSize: size, normalization: 'per-image', equalize: false } as const;
const cache = new ImageCache();
const settings = { ...DEFAULT_TRAIN_SETTINGS, epochs: 1, batchSize };

interface Row {
  architecture: string;
  threads: number;
  imagesPerSecond: number;
  secondsPerStep: number;
  speedup: number;
  numTensorsFlat: boolean;
}

async function measure(architecture: string, threads: number): Promise<Omit<Row, 'speedup'>> {
  const model = buildModel(architecture, { inputSize: size });
  const peers = await GradientPeers.forThreads(
    { architecture, inputSize: size, backend: backend.name },
    threads,
  );
  try {
    const options = { preprocessing, cache, peers };
    await trainLocal(model, records, { ...settings, maxStepsPerEpoch: 1 }, options); // warm-up
    const before = tf.memory().numTensors;
    const started = performance.now();
    await trainLocal(model, records, { ...settings, maxStepsPerEpoch: steps }, options);
    const seconds = (performance.now() - started) / 1000;
    return {
      architecture,
      threads,
      imagesPerSecond: (steps * batchSize) / seconds,
      secondsPerStep: seconds / steps,
      numTensorsFlat: tf.memory().numTensors === before,
    };
  } finally {
    await peers?.close();
    model.dispose();
  }
}

const loadAverageStart = loadavg();
const rows: Row[] = [];
for (const architecture of values.arch.split(',')) {
  let single: number | undefined;
  for (const threads of values.threads.split(',').map(Number)) {
    if (threads > 1 && usesBatchNorm(architecture)) continue;
    const row = await measure(architecture, threads);
    single ??= threads === 1 ? row.imagesPerSecond : undefined;
    rows.push({ ...row, speedup: single ? row.imagesPerSecond / single : Number.NaN });
  }
}
const result = {
  backend: backend.name,
  cores: availableParallelism(),
  size,
  batchSize,
  steps,
  loadAverageStart,
  loadAverageEnd: loadavg(),
  rows,
};
process.stdout.write(JSON.stringify(result, null, 2) + '\n\n');
process.stdout.write(
  '| architecture | threads | img/s | s/step | speed-up | tensors flat |\n|---|---:|---:|---:|---:|---|\n' +
    rows
      .map(
        (r) =>
          `| ${r.architecture} | ${r.threads} | ${r.imagesPerSecond.toFixed(2)} | ${r.secondsPerStep.toFixed(2)} | ${Number.isNaN(r.speedup) ? '-' : r.speedup.toFixed(2) + 'x'} | ${r.numTensorsFlat ? 'yes' : 'NO'} |`,
      )
      .join('\n') +
    '\n',
);
