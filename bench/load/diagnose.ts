/**
 * Load benchmark of POST /diagnose over loopback (127.0.0.1 only).
 *
 * Starts the inference API in this process (buildApp with a MODEL_DIR: `--model DIR`, else the
 * shipped models/fl-se-resnet18-gn when it exists, else a freshly built se-resnet18-gn saved to
 * a temporary directory), then drives it at each concurrency level with the shipped sample
 * JPEGs as multipart uploads, from a worker thread (so the client does not share the server's
 * event loop) over keep-alive connections. Reports per level p50/p90/p99/max latency,
 * throughput, answers by status, network errors, and RSS, heap and tf.memory() before/after
 * (memory must stay flat), as JSON on stdout (and `--out FILE`) followed by a Markdown table.
 *
 *   npx tsx --expose-gc bench/load/diagnose.ts [--requests 10000] [--concurrency 1,8,32]
 *     [--max-seconds 120] [--warmup 20] [--model DIR] [--size 64] [--width 64] [--out FILE]
 *
 * `--requests` is per level; a level also stops at `--max-seconds` (requests in flight
 * finish). The rate limit is off here (RATE_LIMIT_PER_MINUTE=0); API keys are not used.
 * Exit code 1 when tf.memory().numTensors changed over a level or any answer was a 5xx.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runInWorker, type ClientJob } from './diagnose-client.ts';
import {
  environment,
  gc,
  givenOrShippedModel,
  loadQuietBackend,
  MB,
  multipartBody,
  percentile,
  printReport,
  round,
  sampleJpegs,
  startInferenceApp,
} from './harness.ts';

interface MemorySnapshot {
  rssMB: number;
  heapUsedMB: number;
  externalMB: number;
  numTensors: number;
  tfBytesMB: number;
}

interface LevelReport {
  concurrency: number;
  requested: number;
  completed: number;
  stoppedBy: 'requests' | 'time';
  seconds: number;
  throughputPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  byStatus: Record<string, number>;
  networkErrors: Record<string, number>;
  invalidBodies: number;
  memoryBefore: MemorySnapshot;
  memoryAfter: MemorySnapshot;
  numTensorsFlat: boolean;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '10000' },
      concurrency: { type: 'string', default: '1,8,32' },
      'max-seconds': { type: 'string', default: '120' },
      warmup: { type: 'string', default: '20' },
      model: { type: 'string' },
      size: { type: 'string', default: '64' },
      width: { type: 'string', default: '64' },
      out: { type: 'string' },
    },
  });
  const requests = Number(values.requests);
  const levels = values.concurrency.split(',').map(Number);
  const maxSeconds = Number(values['max-seconds']);
  const warmup = Number(values.warmup);
  if (
    !(requests >= 1) ||
    !(maxSeconds > 0) ||
    !(warmup >= 0) ||
    levels.some((c) => !Number.isInteger(c) || c < 1)
  ) {
    throw new Error('--requests, --max-seconds and --concurrency must be positive numbers');
  }

  const { tf, backend } = await loadQuietBackend();

  // The model: --model, the shipped one, or a fresh se-resnet18-gn in a temporary directory.
  let model = givenOrShippedModel(values.model);
  let cleanup = async (): Promise<void> => undefined;
  if (!model) {
    const built = await buildTempModel(Number(values.size), Number(values.width));
    model = {
      dir: built.dir,
      source: `fresh se-resnet18-gn, ${values.size} px, width ${values.width} (untrained)`,
    };
    cleanup = built.remove;
  }

  const { app, address } = await startInferenceApp(model.dir, { maxUploadBytes: 10 * MB });
  const info = app.models.current?.info;

  // Every sample JPEG, each as one ready multipart body.
  const boundary = '----fedxrayLoadBenchmark';
  const bodies: Uint8Array[] = (['NORMAL', 'PNEUMONIA'] as const).flatMap((label) =>
    sampleJpegs(label).map((jpeg) => multipartBody(boundary, readFileSync(jpeg.path), jpeg.name)),
  );
  const job = (concurrency: number, n: number): ClientJob => ({
    url: `${address}/diagnose`,
    contentType: `multipart/form-data; boundary=${boundary}`,
    bodies,
    concurrency,
    requests: n,
    maxSeconds,
    timeoutMs: 60_000,
  });

  const snapshot = (): MemorySnapshot => {
    gc?.();
    const m = process.memoryUsage();
    const t = tf.memory();
    return {
      rssMB: round(m.rss / MB),
      heapUsedMB: round(m.heapUsed / MB),
      externalMB: round(m.external / MB),
      numTensors: t.numTensors,
      tfBytesMB: round(t.numBytes / MB),
    };
  };

  if (warmup > 0) await runInWorker(job(1, warmup));
  const reports: LevelReport[] = [];
  for (const concurrency of levels) {
    const memoryBefore = snapshot();
    const result = await runInWorker(job(concurrency, requests));
    const memoryAfter = snapshot();
    const sorted = Float64Array.from(result.latencies).sort();
    const completed = sorted.length;
    const mean = completed > 0 ? sorted.reduce((a, b) => a + b, 0) / completed : NaN;
    reports.push({
      concurrency,
      requested: requests,
      completed,
      stoppedBy: result.stoppedBy,
      seconds: round(result.elapsedMs / 1000, 2),
      throughputPerSecond: round(completed / (result.elapsedMs / 1000)),
      latencyMs: {
        p50: round(percentile(sorted, 50)),
        p90: round(percentile(sorted, 90)),
        p99: round(percentile(sorted, 99)),
        max: round(sorted[completed - 1] ?? NaN),
        mean: round(mean),
      },
      byStatus: result.byStatus,
      networkErrors: result.networkErrors,
      invalidBodies: result.invalidBodies,
      memoryBefore,
      memoryAfter,
      numTensorsFlat: memoryAfter.numTensors === memoryBefore.numTensors,
    });
  }
  await app.close();
  await cleanup();

  const report = {
    benchmark: 'POST /diagnose over loopback',
    ...environment(backend.name),
    gcBetweenLevels: gc !== undefined,
    model: {
      source: model.source,
      architecture: info?.architecture,
      inputSize: info?.inputSize,
      width: info?.width,
    },
    images: bodies.length,
    warmupRequests: warmup,
    levels: reports,
  };
  await printReport(report, markdown(report.levels), values.out);
  const bad = reports.some(
    (r) => !r.numTensorsFlat || Object.keys(r.byStatus).some((s) => Number(s) >= 500),
  );
  process.exitCode = bad ? 1 : 0;
}

function markdown(levels: LevelReport[]): string {
  const statuses = (r: LevelReport): string =>
    [
      ...Object.entries(r.byStatus).map(([s, n]) => `${s}: ${n}`),
      ...Object.entries(r.networkErrors).map(([e, n]) => `${e}: ${n}`),
    ].join(', ') || '-';
  const rows = levels.map(
    (r) =>
      `| ${r.concurrency} | ${r.completed}/${r.requested}${r.stoppedBy === 'time' ? ' (time)' : ''} ` +
      `| ${r.throughputPerSecond} | ${r.latencyMs.p50} | ${r.latencyMs.p99} | ${r.latencyMs.max} ` +
      `| ${statuses(r)} | ${r.memoryBefore.rssMB} → ${r.memoryAfter.rssMB} ` +
      `| ${r.memoryBefore.heapUsedMB} → ${r.memoryAfter.heapUsedMB} ` +
      `| ${r.memoryBefore.numTensors} → ${r.memoryAfter.numTensors}${r.numTensorsFlat ? '' : ' (NOT flat)'} |`,
  );
  return [
    '| concurrency | completed | req/s | p50 ms | p99 ms | max ms | answers | RSS MB | heap MB | numTensors |',
    '|---:|---:|---:|---:|---:|---:|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** A fresh (untrained) se-resnet18-gn model directory, as `fedxray train --out` writes it. */
async function buildTempModel(
  inputSize: number,
  width: number,
): Promise<{ dir: string; remove: () => Promise<void> }> {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { buildModel } = await import('../../shared/model/architectures.ts');
  const { saveModelDir } = await import('../../shared/model/model-dir.ts');
  const dir = await mkdtemp(join(tmpdir(), 'fedxray-load-'));
  const model = buildModel('se-resnet18-gn', { inputSize, width, seed: 1 });
  try {
    await saveModelDir(dir, model, {
      format: 'fedxray-model',
      version: 1,
      architecture: 'se-resnet18-gn',
      width,
      preprocessing: { inputSize, normalization: 'per-image', equalize: false },
      classes: ['NORMAL', 'PNEUMONIA'],
      threshold: { threshold: 0.5, rule: 'fixed:0.5', description: 'fixed threshold 0.5' },
      parameters: model.countParams(),
      createdAt: new Date().toISOString(),
      training: { kind: 'none', note: 'untrained: built by bench/load/diagnose.ts' },
    });
  } finally {
    model.dispose();
  }
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

await main();
