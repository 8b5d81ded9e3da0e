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
import { parseArgs } from 'node:util';
import type { InferenceApp } from '../../services/inference-api/app.ts';
import { memoryDelta, SAMPLE_INTERVAL_MS, snapshot, startSampler } from './flood-memory.ts';
import { failuresOf, markdown, SLACK_BYTES, type Report } from './flood-report.ts';
import {
  busyLatencyMs,
  countOutcomes,
  diagnoseSample,
  floodBody,
  heldBytesRead,
  sampleBody,
  sendFlood,
  TAIL_BYTES,
  trackServerSockets,
} from './flood-requests.ts';
import {
  environment,
  gc,
  givenOrShippedModel,
  loadQuietBackend,
  MB,
  printReport,
  round,
  sleep,
  startInferenceApp,
} from './harness.ts';

interface Options {
  connections: number;
  cap: number;
  uploadBytes: number;
  holdSeconds: number;
  model: string | undefined;
  out: string | undefined;
}

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
  const resolved = givenOrShippedModel(model);
  if (!resolved) {
    throw new Error('models/fl-se-resnet18-gn/model.json is missing: pass --model DIR');
  }
  return resolved;
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

async function main(): Promise<void> {
  const options = parseOptions();
  const { tf, backend } = await loadQuietBackend();
  const numTensors = (): number => tf.memory().numTensors;
  if (!gc) process.stderr.write('warning: no gc (run with --expose-gc): memory is noisier\n');

  const model = resolveModel(options.model);
  const { app, port } = await startInferenceApp(model.dir, {
    maxUploadBytes: options.uploadBytes,
    maxConcurrentDiagnoses: options.cap,
    // The hold, not Node's 408, decides how long an upload is held.
    requestTimeoutMs: 0,
  });
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
    ...environment(backend.name),
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

  await printReport(report, markdown(report), options.out);
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
