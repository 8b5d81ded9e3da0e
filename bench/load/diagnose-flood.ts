/**
 * Memory of the inference API under a flood of slow POST /diagnose uploads (127.0.0.1 only).
 *
 * MAX_CONCURRENT_DIAGNOSES caps the uploads in flight (beyond it: 503 `busy`, `retry-after: 1`,
 * before any of the body is read), so memory under a flood should stay within about
 * cap x MAX_UPLOAD_BYTES above the baseline. This measures it: starts the inference API in this
 * process (buildApp with a MODEL_DIR: `--model DIR`, else the shipped models/fl-se-resnet18-gn;
 * rate limit off, no request timeout, maxConcurrentDiagnoses = `--cap`, maxUploadBytes =
 * `--upload-mib` MiB), warms it up with one sample JPEG, records the baseline (after gc), then
 * opens `--connections` raw sockets that each send the headers of a multipart upload of exactly
 * `--upload-mib` MiB and all of its body but the last 4 KiB (the server buffers what it takes),
 * and hold for `--hold-seconds`. RSS, heapUsed, external and arrayBuffers are sampled every
 * 200 ms from the first socket until the held uploads are gone. Then every socket is destroyed
 * (the clients give up), GET /ready must show inFlight 0, a normal /diagnose of a sample JPEG
 * must answer 200, and tf.memory().numTensors must be back at the baseline. Reports the
 * baseline, peak and after memory, peak - baseline against the bound, the answers while held
 * (503 busy, held, other) as JSON on stdout (and `--out FILE`) followed by a Markdown table.
 *
 *   npx tsx --expose-gc bench/load/diagnose-flood.ts [--connections 200] [--cap 32]
 *     [--upload-mib 10] [--hold-seconds 10] [--model DIR] [--out FILE]
 *
 * The client runs on the server's event loop; it writes one shared body buffer to every socket,
 * so it adds about one upload to the process, not one per connection. Each connection is two
 * file descriptors here (client and server end): mind `ulimit -n` for large `--connections`.
 * Exit code 1 (each reason printed) when GET /ready's inFlight is not 0 afterwards,
 * tf.memory().numTensors changed, the /diagnose afterwards was not 200, or the RSS peak exceeded
 * the baseline by more than cap x upload bytes + 256 MiB.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { InferenceApp } from '../../services/inference-api/app.ts';
import { RawConnection } from '../../test/helpers/raw-http.ts';

const MB = 2 ** 20;
/** The end of each upload that is never sent: the server holds the rest. */
const TAIL_BYTES = 4 * 1024;
const SAMPLE_INTERVAL_MS = 200;
/** Allowed over cap x upload bytes: the decoded images, parser buffers, allocator slack. */
const SLACK_BYTES = 256 * MB;
/** How long the bodies may take to go out before the hold starts anyway. */
const SEND_TIMEOUT_MS = 120_000;
const BOUNDARY = '----fedxrayFloodBenchmark';

interface Options {
  connections: number;
  cap: number;
  uploadBytes: number;
  holdSeconds: number;
  model: string | undefined;
  out: string | undefined;
}

/** process.memoryUsage() in MB (arrayBuffers is part of external). */
interface MemorySample {
  rssMB: number;
  heapUsedMB: number;
  externalMB: number;
  arrayBuffersMB: number;
}

interface MemorySnapshot extends MemorySample {
  numTensors: number;
}

/** What one flood connection got by the end of the hold. */
type Outcome = 'busy' | 'held' | 'closed' | `status ${number}`;

interface FloodConnection {
  connection: RawConnection;
  /** Set when an answer came: its status, error code and ms after the headers were written. */
  answer?: { status: number; code: string | undefined; retryAfter: string | undefined; ms: number };
  sendError?: string;
}

const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const gc = (globalThis as { gc?: () => void }).gc;

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', default: '200' },
      cap: { type: 'string', default: '32' },
      'upload-mib': { type: 'string', default: '10' },
      'hold-seconds': { type: 'string', default: '10' },
      model: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const options: Options = {
    connections: Number(values.connections),
    cap: Number(values.cap),
    uploadBytes: Math.round(Number(values['upload-mib']) * MB),
    holdSeconds: Number(values['hold-seconds']),
    model: values.model,
    out: values.out,
  };
  if (!Number.isInteger(options.connections) || options.connections < 1) {
    throw new Error('--connections must be a positive integer');
  }
  if (!Number.isInteger(options.cap) || options.cap < 1) {
    throw new Error('--cap must be a positive integer (0, no cap, has no bound to check)');
  }
  if (!(options.uploadBytes >= 64 * 1024)) throw new Error('--upload-mib must be at least 0.0625');
  if (!(options.holdSeconds >= 0)) throw new Error('--hold-seconds must be 0 or more');
  return options;
}

/** `--model`, else the shipped model. */
function resolveModel(model: string | undefined): { dir: string; source: string } {
  if (model) return { dir: model, source: `--model ${model}` };
  const shipped = fileURLToPath(new URL('../../models/fl-se-resnet18-gn', import.meta.url));
  if (!existsSync(join(shipped, 'model.json'))) {
    throw new Error('models/fl-se-resnet18-gn/model.json is missing: pass --model DIR');
  }
  return { dir: shipped, source: 'models/fl-se-resnet18-gn (shipped)' };
}

async function startApp(
  options: Options,
  modelDir: string,
): Promise<{ app: InferenceApp; port: number }> {
  const { buildApp } = await import('../../services/inference-api/app.ts');
  const app = await buildApp(
    {
      port: 0,
      host: '127.0.0.1',
      modelDir,
      modelPollSeconds: 0,
      maxUploadBytes: options.uploadBytes,
      rateLimitPerMinute: 0,
      maxConcurrentDiagnoses: options.cap,
      // The hold, not Node's 408, decides how long an upload is held.
      requestTimeoutMs: 0,
    },
    { logger: false },
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, port: (app.server.address() as AddressInfo).port };
}

// ---- requests ----

function multipartBody(image: Buffer, filename: string): Buffer {
  return Buffer.concat([
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="${filename}"\r\n` +
        'Content-Type: image/jpeg\r\n\r\n',
    ),
    image,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
}

/** A multipart upload of exactly `bytes` (its file: zeros; never completed, so never decoded). */
function floodBody(bytes: number): Buffer {
  const overhead = multipartBody(Buffer.alloc(0), 'flood.jpg').length;
  return multipartBody(Buffer.alloc(bytes - overhead), 'flood.jpg');
}

function requestHead(bodyLength: number): Buffer {
  return Buffer.from(
    'POST /diagnose HTTP/1.1\r\nhost: 127.0.0.1\r\n' +
      `content-type: multipart/form-data; boundary=${BOUNDARY}\r\n` +
      `content-length: ${bodyLength}\r\n\r\n`,
  );
}

/** The first sample JPEG, as a multipart body. */
function sampleBody(): Buffer {
  const dir = fileURLToPath(new URL('../../data/sample/NORMAL', import.meta.url));
  const name = readdirSync(dir)
    .filter((n) => /\.jpe?g$/i.test(n))
    .sort()[0];
  if (!name) throw new Error(`no sample JPEG in ${dir}`);
  return multipartBody(readFileSync(join(dir, name)), name);
}

/** One whole /diagnose of a sample JPEG over a fresh socket: its status. */
async function diagnoseSample(port: number, body: Buffer): Promise<number> {
  const connection = await RawConnection.open(port);
  try {
    await connection.write(Buffer.concat([requestHead(body.length), body]));
    return (await connection.response(60_000)).status;
  } finally {
    connection.abort();
  }
}

async function readyInFlight(app: InferenceApp): Promise<number> {
  const res = await app.inject({ url: '/ready' });
  return res.json<{ inFlight: number }>().inFlight;
}

/** Waits (at most `timeoutMs`) until /ready reports no request in flight: the last count. */
async function inFlightSettles(app: InferenceApp, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let count = await readyInFlight(app);
  while (count !== 0 && Date.now() < deadline) {
    await sleep(50);
    count = await readyInFlight(app);
  }
  return count;
}

// ---- memory ----

function memorySample(): MemorySample {
  const m = process.memoryUsage();
  return {
    rssMB: round(m.rss / MB),
    heapUsedMB: round(m.heapUsed / MB),
    externalMB: round(m.external / MB),
    arrayBuffersMB: round(m.arrayBuffers / MB),
  };
}

async function snapshot(numTensors: () => number): Promise<MemorySnapshot> {
  gc?.();
  await sleep(200); // let freed buffers' finalizers run
  gc?.();
  return { ...memorySample(), numTensors: numTensors() };
}

/** Samples memory every SAMPLE_INTERVAL_MS; `stop` gives the peak of each figure. */
function startSampler(): { stop: () => { peak: MemorySample; samples: number } } {
  let peak = memorySample();
  let samples = 1;
  const take = (): void => {
    const s = memorySample();
    samples++;
    peak = {
      rssMB: Math.max(peak.rssMB, s.rssMB),
      heapUsedMB: Math.max(peak.heapUsedMB, s.heapUsedMB),
      externalMB: Math.max(peak.externalMB, s.externalMB),
      arrayBuffersMB: Math.max(peak.arrayBuffersMB, s.arrayBuffersMB),
    };
  };
  const timer = setInterval(take, SAMPLE_INTERVAL_MS);
  return {
    stop: () => {
      clearInterval(timer);
      take();
      return { peak, samples };
    },
  };
}

// ---- the flood ----

/** Sends the headers and all of `body` but its tail; records the answer if one comes. */
async function sendSlowUpload(flood: FloodConnection, body: Buffer): Promise<void> {
  const { connection } = flood;
  const started = performance.now();
  // The answer, if one comes (503 busy at once): the socket's destruction ends the wait.
  connection.response(24 * 3600 * 1000).then(
    (res) => {
      flood.answer = {
        status: res.status,
        code: parseErrorCode(res.body),
        retryAfter: res.headers['retry-after'],
        ms: performance.now() - started,
      };
    },
    () => undefined,
  );
  try {
    await Promise.all([
      connection.write(requestHead(body.length)),
      connection.write(body.subarray(0, body.length - TAIL_BYTES)),
    ]);
  } catch (error) {
    flood.sendError = error instanceof Error ? error.message : String(error);
  }
}

/** The `error.code` of an error answer's JSON body. */
function parseErrorCode(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const error = (parsed as { error?: { code?: unknown } } | null)?.error;
  return typeof error?.code === 'string' ? error.code : undefined;
}

function outcomeOf(flood: FloodConnection): Outcome {
  const { answer } = flood;
  if (answer) {
    return answer.status === 503 && answer.code === 'busy' && answer.retryAfter === '1'
      ? 'busy'
      : `status ${answer.status}`;
  }
  return flood.connection.isClosed ? 'closed' : 'held';
}

/**
 * Opens the connections and sends every upload but its tail; waits until all are sent or
 * SEND_TIMEOUT_MS passed. Every connection opened is in `floods`, sent or not.
 */
async function sendFlood(
  port: number,
  connections: number,
  body: Buffer,
): Promise<{ floods: FloodConnection[]; sentSeconds: number; timedOut: boolean }> {
  const started = performance.now();
  const floods: FloodConnection[] = [];
  const all = Promise.all(
    Array.from({ length: connections }, async () => {
      const flood: FloodConnection = { connection: await RawConnection.open(port) };
      floods.push(flood);
      await sendSlowUpload(flood, body);
    }),
  );
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    all.then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), SEND_TIMEOUT_MS))),
  ]).finally(() => clearTimeout(timer));
  return { floods, sentSeconds: round((performance.now() - started) / 1000, 2), timedOut };
}

/** The server's end of each connection, by the client's port, from now until `stop`. */
function trackServerSockets(app: InferenceApp): {
  byClientPort: Map<number, Socket>;
  stop: () => void;
} {
  const byClientPort = new Map<number, Socket>();
  const onConnection = (socket: Socket): void => {
    if (socket.remotePort !== undefined) byClientPort.set(socket.remotePort, socket);
  };
  app.server.on('connection', onConnection);
  return { byClientPort, stop: () => app.server.off('connection', onConnection) };
}

/** Bytes the server has read from the held connections (headers included). */
function heldBytesRead(floods: FloodConnection[], byClientPort: Map<number, Socket>): number {
  let bytes = 0;
  for (const flood of floods) {
    if (outcomeOf(flood) !== 'held') continue;
    const port = flood.connection.socket.localPort;
    bytes += (port === undefined ? undefined : byClientPort.get(port))?.bytesRead ?? 0;
  }
  return bytes;
}

function countOutcomes(floods: FloodConnection[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const flood of floods) {
    const outcome = outcomeOf(flood);
    counts[outcome] = (counts[outcome] ?? 0) + 1;
  }
  return counts;
}

function busyLatencyMs(floods: FloodConnection[]): { p50: number; max: number } | null {
  const ms = floods
    .filter((f) => outcomeOf(f) === 'busy')
    .map((f) => f.answer?.ms ?? NaN)
    .sort((a, b) => a - b);
  if (ms.length === 0) return null;
  return { p50: round(ms[Math.ceil(ms.length / 2) - 1]), max: round(ms[ms.length - 1]) };
}

// ---- the report ----

interface Report {
  benchmark: string;
  date: string;
  node: string;
  cpus: number;
  cpuModel: string;
  backend: string;
  gc: boolean;
  model: { source: string; architecture: string | undefined };
  settings: {
    connections: number;
    cap: number;
    uploadBytes: number;
    tailBytes: number;
    holdSeconds: number;
    requestTimeoutMs: number;
    sampleIntervalMs: number;
  };
  memory: { baseline: MemorySnapshot; peak: MemorySample; after: MemorySnapshot; samples: number };
  peakMinusBaselineMB: MemorySample;
  boundMB: number;
  allowedMB: number;
  flood: {
    sentSeconds: number;
    sendTimedOut: boolean;
    sendErrors: number;
    busy503: number;
    expectedBusy503: number;
    held: number;
    expectedHeld: number;
    closedWithoutAnswer: number;
    otherAnswers: Record<string, number>;
    busyAnswerMs: { p50: number; max: number } | null;
    inFlightWhileHeld: number;
    /** What the server had read of the held uploads at the end of the hold. */
    heldBytesReadMB: number;
    /** held x (upload - tail): all of it, when the server buffers what it is sent. */
    heldBytesSentMB: number;
  };
  afterFlood: {
    readyInFlight: number;
    diagnoseStatus: number | string;
    numTensorsBaseline: number;
    numTensorsAfter: number;
  };
  failures: string[];
}

function memoryDelta(peak: MemorySample, baseline: MemorySample): MemorySample {
  return {
    rssMB: round(peak.rssMB - baseline.rssMB),
    heapUsedMB: round(peak.heapUsedMB - baseline.heapUsedMB),
    externalMB: round(peak.externalMB - baseline.externalMB),
    arrayBuffersMB: round(peak.arrayBuffersMB - baseline.arrayBuffersMB),
  };
}

function failuresOf(report: Omit<Report, 'failures'>): string[] {
  const failures: string[] = [];
  const { afterFlood: after } = report;
  if (after.readyInFlight !== 0) {
    failures.push(`GET /ready inFlight is ${after.readyInFlight} after the flood, not 0`);
  }
  if (after.numTensorsAfter !== after.numTensorsBaseline) {
    failures.push(
      `tf.memory().numTensors went from ${after.numTensorsBaseline} to ${after.numTensorsAfter}`,
    );
  }
  if (after.diagnoseStatus !== 200) {
    failures.push(`POST /diagnose after the flood answered ${after.diagnoseStatus}, not 200`);
  }
  if (report.peakMinusBaselineMB.rssMB > report.allowedMB) {
    failures.push(
      `RSS peak - baseline is ${report.peakMinusBaselineMB.rssMB} MB, over the bound ` +
        `${report.boundMB} MB + ${SLACK_BYTES / MB} MB`,
    );
  }
  return failures;
}

function markdown(r: Report): string {
  const m = r.memory;
  const other = Object.entries(r.flood.otherAnswers).map(([s, n]) => `${s}: ${n}`);
  if (r.flood.closedWithoutAnswer > 0) other.push(`closed: ${r.flood.closedWithoutAnswer}`);
  return [
    '| connections | cap | upload MiB | 503 busy | held | other | in flight held → after ' +
      '| RSS MB base → peak → after | RSS peak − base MB | bound MB | heap MB base → peak ' +
      '| external MB base → peak | numTensors | /diagnose after |',
    '|---:|---:|---:|---:|---:|---|---|---|---:|---:|---|---|---|---:|',
    `| ${r.settings.connections} | ${r.settings.cap} | ${round(r.settings.uploadBytes / MB, 2)} ` +
      `| ${r.flood.busy503}/${r.flood.expectedBusy503} | ${r.flood.held}/${r.flood.expectedHeld} ` +
      `| ${other.join(', ') || '-'} | ${r.flood.inFlightWhileHeld} → ${r.afterFlood.readyInFlight} ` +
      `| ${m.baseline.rssMB} → ${m.peak.rssMB} → ${m.after.rssMB} ` +
      `| ${r.peakMinusBaselineMB.rssMB} | ${r.boundMB} ` +
      `| ${m.baseline.heapUsedMB} → ${m.peak.heapUsedMB} ` +
      `| ${m.baseline.externalMB} → ${m.peak.externalMB} ` +
      `| ${m.baseline.numTensors} → ${m.after.numTensors} | ${r.afterFlood.diagnoseStatus} |`,
  ].join('\n');
}

// ---- main ----

async function main(): Promise<void> {
  const options = parseOptions();
  process.env.FEDXRAY_QUIET = '1';
  const { tf } = await import('../../shared/tf/tf.ts');
  const { initBackend } = await import('../../shared/tf/backend.ts');
  const backend = await initBackend();
  const numTensors = (): number => tf.memory().numTensors;
  if (!gc) process.stderr.write('warning: no gc (run with --expose-gc): memory is noisier\n');

  const model = resolveModel(options.model);
  const { app, port } = await startApp(options, model.dir);
  const sample = sampleBody();
  const warmup = await diagnoseSample(port, sample); // builds the model's tensors
  if (warmup !== 200) throw new Error(`the warm-up /diagnose answered ${warmup}`);
  const baseline = await snapshot(numTensors);

  const sampler = startSampler();
  const serverSockets = trackServerSockets(app);
  const body = floodBody(options.uploadBytes);
  const sent = await sendFlood(port, options.connections, body);
  await sleep(options.holdSeconds * 1000);
  const inFlightWhileHeld = await readyInFlight(app);
  const counts = countOutcomes(sent.floods);
  const busyAnswerMs = busyLatencyMs(sent.floods);
  const heldRead = heldBytesRead(sent.floods, serverSockets.byClientPort);
  serverSockets.stop();
  for (const flood of sent.floods) flood.connection.abort();
  const readyAfter = await inFlightSettles(app, 10_000);
  const { peak, samples } = sampler.stop();

  const diagnoseStatus = await diagnoseSample(port, sample).catch((error: unknown) =>
    error instanceof Error ? error.message : String(error),
  );
  const after = await snapshot(numTensors);
  const architecture = app.models.current?.info.architecture;
  await app.close();

  const { busy = 0, held = 0, closed = 0, ...otherAnswers } = counts;
  const expectedHeld = Math.min(options.cap, options.connections);
  const partial: Omit<Report, 'failures'> = {
    benchmark: 'POST /diagnose under a flood of slow uploads',
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    backend: backend.name,
    gc: gc !== undefined,
    model: { source: model.source, architecture },
    settings: {
      connections: options.connections,
      cap: options.cap,
      uploadBytes: options.uploadBytes,
      tailBytes: TAIL_BYTES,
      holdSeconds: options.holdSeconds,
      requestTimeoutMs: 0,
      sampleIntervalMs: SAMPLE_INTERVAL_MS,
    },
    memory: { baseline, peak, after, samples },
    peakMinusBaselineMB: memoryDelta(peak, baseline),
    boundMB: round((options.cap * options.uploadBytes) / MB),
    allowedMB: round((options.cap * options.uploadBytes + SLACK_BYTES) / MB),
    flood: {
      sentSeconds: sent.sentSeconds,
      sendTimedOut: sent.timedOut,
      sendErrors: sent.floods.filter((f) => f.sendError !== undefined).length,
      busy503: busy,
      expectedBusy503: options.connections - expectedHeld,
      held,
      expectedHeld,
      closedWithoutAnswer: closed,
      otherAnswers,
      busyAnswerMs,
      inFlightWhileHeld,
      heldBytesReadMB: round(heldRead / MB),
      heldBytesSentMB: round((held * (body.length - TAIL_BYTES)) / MB),
    },
    afterFlood: {
      readyInFlight: readyAfter,
      diagnoseStatus,
      numTensorsBaseline: baseline.numTensors,
      numTensorsAfter: after.numTensors,
    },
  };
  const report: Report = { ...partial, failures: failuresOf(partial) };

  const json = JSON.stringify(report, null, 2);
  if (options.out) await writeFile(options.out, json + '\n');
  process.stdout.write(json + '\n\n' + markdown(report) + '\n');
  if (busy !== partial.flood.expectedBusy503 || held !== expectedHeld) {
    process.stderr.write(
      `note: ${busy} answered 503 busy and ${held} held; expected ` +
        `${partial.flood.expectedBusy503} and ${expectedHeld}\n`,
    );
  }
  for (const failure of report.failures) process.stderr.write(`FAIL: ${failure}\n`);
  process.exitCode = report.failures.length > 0 ? 1 : 0;
}

await main();
