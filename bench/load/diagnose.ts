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
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

// ---- the client (runs in a worker thread) ----

interface ClientJob {
  url: string;
  contentType: string;
  bodies: Uint8Array[];
  concurrency: number;
  requests: number;
  maxSeconds: number;
  /** Per-request timeout. */
  timeoutMs: number;
}

interface ClientResult {
  /** Milliseconds from sending to the last byte of the answer, of every completed request. */
  latencies: Float64Array;
  byStatus: Record<string, number>;
  /** Requests without an HTTP answer (connection errors, timeouts), by error code. */
  networkErrors: Record<string, number>;
  /** 200 answers whose body was not a diagnosis. */
  invalidBodies: number;
  elapsedMs: number;
  stoppedBy: 'requests' | 'time';
}

async function runClient(job: ClientJob): Promise<ClientResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency });
  const bodies = job.bodies.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  const latencies: number[] = [];
  const byStatus: Record<string, number> = {};
  const networkErrors: Record<string, number> = {};
  let invalidBodies = 0;
  let issued = 0;
  const started = performance.now();
  const deadline = started + job.maxSeconds * 1000;

  const once = (body: Buffer): Promise<void> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const req = httpRequest(
        job.url,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': job.contentType, 'content-length': body.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            latencies.push(performance.now() - t0);
            const status = String(res.statusCode);
            byStatus[status] = (byStatus[status] ?? 0) + 1;
            if (res.statusCode === 200) {
              try {
                const label = JSON.parse(Buffer.concat(chunks).toString('utf8')).label;
                if (label !== 'NORMAL' && label !== 'PNEUMONIA') invalidBodies++;
              } catch {
                invalidBodies++;
              }
            }
            resolve();
          });
          res.on('error', () => undefined);
        },
      );
      req.setTimeout(job.timeoutMs, () =>
        req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })),
      );
      req.on('error', (error: NodeJS.ErrnoException) => {
        const code = error.code ?? error.message;
        networkErrors[code] = (networkErrors[code] ?? 0) + 1;
        resolve();
      });
      req.end(body);
    });

  let stoppedBy: ClientResult['stoppedBy'] = 'requests';
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      while (issued < job.requests) {
        if (performance.now() >= deadline) {
          stoppedBy = 'time';
          return;
        }
        const i = issued++;
        await once(bodies[i % bodies.length]);
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  agent.destroy();
  return {
    latencies: Float64Array.from(latencies),
    byStatus,
    networkErrors,
    invalidBodies,
    elapsedMs,
    stoppedBy,
  };
}

/** Runs one level in a fresh worker thread (tsx is registered there first). */
function runInWorker(job: ClientJob): Promise<ClientResult> {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const self = import.meta.url;
  const source =
    `import(${JSON.stringify(tsxApi)})` +
    `.then((m) => { m.register(); return import(${JSON.stringify(self)}); })`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: job });
    worker.once('message', (result: ClientResult) => {
      resolve(result);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`client worker exited with ${code}`));
    });
  });
}

// ---- the benchmark (main thread) ----

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

const MB = 2 ** 20;
const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
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

  process.env.FEDXRAY_QUIET = '1';
  const { buildApp } = await import('../../services/inference-api/app.ts');
  const { SAMPLE_DATA_DIR } = await import('../../shared/data/sample.ts');
  const { tf } = await import('../../shared/tf/tf.ts');
  const { initBackend } = await import('../../shared/tf/backend.ts');
  const backend = await initBackend();

  // The model: --model, the shipped one, or a fresh se-resnet18-gn in a temporary directory.
  const shipped = fileURLToPath(new URL('../../models/fl-se-resnet18-gn', import.meta.url));
  let modelDir: string;
  let modelSource: string;
  let cleanup = async (): Promise<void> => undefined;
  if (values.model) {
    modelDir = values.model;
    modelSource = `--model ${values.model}`;
  } else if (existsSync(join(shipped, 'model.json'))) {
    modelDir = shipped;
    modelSource = 'models/fl-se-resnet18-gn (shipped)';
  } else {
    const built = await buildTempModel(Number(values.size), Number(values.width));
    modelDir = built.dir;
    modelSource = `fresh se-resnet18-gn, ${values.size} px, width ${values.width} (untrained)`;
    cleanup = built.remove;
  }

  const app = await buildApp(
    {
      port: 0,
      host: '127.0.0.1',
      modelDir,
      modelPollSeconds: 0,
      maxUploadBytes: 10 * MB,
      rateLimitPerMinute: 0,
    },
    { logger: false },
  );
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const model = app.models.current?.info;

  // Every sample JPEG, each as one ready multipart body.
  const boundary = '----fedxrayLoadBenchmark';
  const bodies: Uint8Array[] = [];
  for (const label of ['NORMAL', 'PNEUMONIA']) {
    const dir = join(SAMPLE_DATA_DIR, label);
    for (const name of readdirSync(dir).sort()) {
      if (!/\.(jpe?g)$/i.test(name)) continue;
      bodies.push(
        Buffer.concat([
          Buffer.from(
            `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="${name}"\r\n` +
              'Content-Type: image/jpeg\r\n\r\n',
          ),
          readFileSync(join(dir, name)),
          Buffer.from(`\r\n--${boundary}--\r\n`),
        ]),
      );
    }
  }
  const job = (concurrency: number, n: number): ClientJob => ({
    url: `${address}/diagnose`,
    contentType: `multipart/form-data; boundary=${boundary}`,
    bodies,
    concurrency,
    requests: n,
    maxSeconds,
    timeoutMs: 60_000,
  });

  const gc = (globalThis as { gc?: () => void }).gc;
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
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    backend: backend.name,
    gcBetweenLevels: gc !== undefined,
    model: {
      source: modelSource,
      architecture: model?.architecture,
      inputSize: model?.inputSize,
      width: model?.width,
    },
    images: bodies.length,
    warmupRequests: warmup,
    levels: reports,
  };
  const json = JSON.stringify(report, null, 2);
  if (values.out) await writeFile(values.out, json + '\n');
  process.stdout.write(json + '\n\n' + markdown(report.levels) + '\n');
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

if (isMainThread) {
  await main();
} else {
  parentPort?.postMessage(await runClient(workerData as ClientJob));
}
