/**
 * Peak memory of one round's aggregation (issue 15 item 5): J hospitals' updates of the full
 * SE-ResNet-18-GN (the shipped model's tensors, float32 on disk as the nodes send them) are
 * averaged by FedAvg two ways, each in a child process of its own:
 * - `files`: as the aggregator does, each update's file opened and read tensor by tensor;
 * - `in-memory`: every update decoded into memory first (what the aggregator did before).
 * Prints the peak resident memory above the baseline (the process with the round's input
 * model loaded) in megabytes and in model sizes, as JSON and a table.
 *
 *   npx tsx --expose-gc bench/aggregation/memory.ts [--hospitals 20] [--model DIR] [--out FILE]
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FedAvg } from '../../shared/federated/fedavg.ts';
import type { ClientResult } from '../../shared/federated/strategy.ts';
import { inMemoryWeights } from '../../shared/federated/strategy-utils.ts';
import {
  decodeWeights,
  encodeWeights,
  loadWeights,
  openWeightsFile,
  packWeights,
  unpackWeights,
  type NamedWeights,
  type WeightsFile,
} from '../../shared/weights/index.ts';
import { readFile } from 'node:fs/promises';

const MB = 2 ** 20;
const gc = (globalThis as { gc?: () => void }).gc;
const round1 = (x: number) => Math.round(x * 10) / 10;

type Mode = 'files' | 'in-memory';

interface ModeResult {
  mode: Mode;
  hospitals: number;
  modelMB: number;
  baselineMB: number;
  peakMB: number;
  aboveBaselineMB: number;
  aboveBaselineModels: number;
  seconds: number;
}

/** Writes J perturbed copies of the model as packed float32 files; answers their paths. */
async function writeUpdates(reference: NamedWeights[], hospitals: number, dir: string) {
  const files: string[] = [];
  for (let j = 0; j < hospitals; j++) {
    const update = reference.map((w) => {
      const data = Float32Array.from(w.data);
      for (let k = j % 7; k < data.length; k += 7) data[k] += 1e-3 * (j + 1);
      return { ...w, data };
    });
    const { manifest, blob } = encodeWeights(update);
    const file = path.join(dir, `hospital-${j}.fxw`);
    await writeFile(file, packWeights(manifest, blob));
    files.push(file);
  }
  return files;
}

/** One mode, measured in this process (the child). */
async function measure(mode: Mode, modelDir: string, files: string[]): Promise<ModeResult> {
  const reference = await loadWeights(modelDir);
  const modelBytes = reference.reduce((s, w) => s + w.data.byteLength, 0);
  gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 2);
  const started = performance.now();
  const opened: WeightsFile[] = [];
  let results: ClientResult[];
  if (mode === 'files') {
    for (const f of files) opened.push(await openWeightsFile(f));
    results = opened.map((weights, j) => ({ clientId: `h${j}`, numSamples: 100 + j, weights }));
  } else {
    results = [];
    for (const [j, f] of files.entries()) {
      const { manifest, blob } = unpackWeights(await readFile(f));
      results.push({
        clientId: `h${j}`,
        numSamples: 100 + j,
        weights: inMemoryWeights(decodeWeights(manifest, blob)),
      });
    }
  }
  const aggregate = await new FedAvg({ fraction: 1 }).aggregateFit(
    { round: 1, current: reference, previousInput: async () => undefined },
    results,
  );
  await Promise.all(opened.map((f) => f.close()));
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  if (!aggregate.weights) throw new Error('no aggregate');
  peak = Math.max(peak, process.memoryUsage().rss);
  const above = peak - baseline;
  return {
    mode,
    hospitals: files.length,
    modelMB: round1(modelBytes / MB),
    baselineMB: round1(baseline / MB),
    peakMB: round1(peak / MB),
    aboveBaselineMB: round1(above / MB),
    aboveBaselineModels: Math.round((above / modelBytes) * 100) / 100,
    seconds: round1(seconds),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      hospitals: { type: 'string', default: '20' },
      model: { type: 'string', default: 'models/fl-se-resnet18-gn' },
      out: { type: 'string' },
      child: { type: 'string' },
      files: { type: 'string' },
    },
  });
  if (values.child) {
    const result = await measure(
      values.child as Mode,
      values.model,
      (values.files ?? '').split(','),
    );
    process.stdout.write(JSON.stringify(result));
    return;
  }
  const hospitals = Number(values.hospitals);
  const dir = await mkdtemp(path.join(tmpdir(), 'fedxray-aggregation-'));
  try {
    const files = await writeUpdates(await loadWeights(values.model), hospitals, dir);
    const modes: ModeResult[] = [];
    for (const mode of ['files', 'in-memory'] as const) {
      const out = execFileSync(
        process.execPath,
        [
          '--expose-gc',
          '--import',
          'tsx',
          import.meta.filename,
          '--child',
          mode,
          '--model',
          values.model,
          '--files',
          files.join(','),
        ],
        { encoding: 'utf8', maxBuffer: 1 << 20 },
      );
      modes.push(JSON.parse(out) as ModeResult);
    }
    const report = {
      benchmark: 'aggregation-memory',
      strategy: 'fedavg',
      hospitals,
      model: values.model,
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
      modes,
      finishedAt: new Date().toISOString(),
    };
    const json = JSON.stringify(report, null, 2);
    if (values.out) await writeFile(values.out, json + '\n');
    process.stdout.write(json + '\n\n');
    process.stdout.write(
      '| mode | hospitals | model MB | peak above baseline MB | in model sizes | s |\n',
    );
    process.stdout.write('|---|---:|---:|---:|---:|---:|\n');
    for (const m of modes) {
      process.stdout.write(
        `| ${m.mode} | ${m.hospitals} | ${m.modelMB} | ${m.aboveBaselineMB} | ${m.aboveBaselineModels} | ${m.seconds} |\n`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
