/**
 * Engine benchmark: training and inference images/s and peak RSS of se-resnet18-gn per backend,
 * input size and batch size. Each configuration runs in its own process (`fedxray bench --json`)
 * so peak RSS is its own. Prints one JSON document, then a Markdown table.
 *
 *   npx tsx bench/engine.ts [--backends wasm,cpu] [--sizes 64,128,224] [--batches 8,32] [--steps 5]
 *                           [--arch se-resnet18-gn] [--out results.json]
 *
 * The cpu backend is slow (seconds per image): it is measured only at the smallest size and batch.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { parseArgs, promisify } from 'node:util';
import type { ThroughputResult } from '../shared/bench/throughput.ts';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    backends: { type: 'string', default: 'wasm,cpu' },
    sizes: { type: 'string', default: '64,128,224' },
    batches: { type: 'string', default: '8,32' },
    steps: { type: 'string', default: '5' },
    arch: { type: 'string', default: 'se-resnet18-gn' },
    out: { type: 'string' },
  },
});
const list = (s: string): string[] => s.split(',').filter(Boolean);
const bin = new URL('../bin/fedxray.mjs', import.meta.url).pathname;

type Row = ThroughputResult & { backend: string };

const rows: Row[] = [];
const failures: { backend: string; inputSize: number; batchSize: number; error: string }[] = [];
for (const backend of list(values.backends)) {
  for (const size of list(values.sizes)) {
    for (const batch of list(values.batches)) {
      const slow = backend === 'cpu';
      if (slow && (size !== list(values.sizes)[0] || batch !== list(values.batches)[0])) continue;
      const steps = slow ? '1' : values.steps;
      const args = [
        bin,
        'bench',
        '--json',
        '--backend',
        backend,
        '--arch',
        values.arch,
        '--size',
        size,
        '--batch',
        batch,
        '--steps',
        steps,
        // This table compares tfjs backends: inference on tfjs too, not onnxruntime.
        '--runtime',
        'tfjs',
      ];
      process.stderr.write(`fedxray ${args.slice(1).join(' ')}\n`);
      try {
        const { stdout } = await run(process.execPath, args, {
          env: { ...process.env, FEDXRAY_QUIET: '1' },
          maxBuffer: 1 << 24,
        });
        const row = JSON.parse(stdout) as Row;
        rows.push(row);
        process.stderr.write(
          `  train ${row.trainImagesPerSecond.toFixed(2)} img/s, infer ${row.inferImagesPerSecond.toFixed(1)} img/s, peak RSS ${row.peakRssMB.toFixed(0)} MB\n`,
        );
      } catch (error) {
        // e.g. wasm's 4 GB address space is too small for 224 px training at batch 32.
        const message =
          ((error as { stderr?: string }).stderr ?? String(error)).trim().split('\n').pop() ?? '';
        failures.push({
          backend,
          inputSize: Number(size),
          batchSize: Number(batch),
          error: message,
        });
        process.stderr.write(`  failed: ${message}\n`);
      }
    }
  }
}

const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
};
const document = { machine, date: new Date().toISOString(), results: rows, failures };
process.stdout.write(JSON.stringify(document, null, 2) + '\n\n');
process.stdout.write(
  '| backend | size | batch | train img/s | train ms/img | infer img/s | infer ms/img | peak RSS MB | tensors before/after |\n',
);
process.stdout.write('|---|---:|---:|---:|---:|---:|---:|---:|---|\n');
for (const r of rows) {
  process.stdout.write(
    `| ${r.backend} | ${r.inputSize} | ${r.batchSize} | ${r.trainImagesPerSecond.toFixed(2)} | ${r.trainMsPerImage.toFixed(0)} | ${r.inferImagesPerSecond.toFixed(1)} | ${r.inferMsPerImage.toFixed(1)} | ${r.peakRssMB.toFixed(0)} | ${r.tensorsBefore}/${r.tensorsAfter} |\n`,
  );
}
for (const f of failures) {
  process.stdout.write(
    `| ${f.backend} | ${f.inputSize} | ${f.batchSize} | failed: ${f.error} | | | | | |\n`,
  );
}
if (values.out) await writeFile(values.out, JSON.stringify(document, null, 2) + '\n');
