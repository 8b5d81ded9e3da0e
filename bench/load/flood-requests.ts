/**
 * The raw-socket requests of the flood benchmark (diagnose-flood.ts): slow multipart uploads
 * that send all but their tail and are held, what each got by the end of the hold, and one
 * whole /diagnose of a sample JPEG.
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { InferenceApp } from '../../services/inference-api/app.ts';
import { SAMPLE_DATA_DIR } from '../../shared/data/sample.ts';
import { RawConnection } from '../../test/helpers/raw-http.ts';
import { multipartBody, percentile, round, sampleJpegs } from './harness.ts';

/** The end of each upload that is never sent: the server holds the rest. */
export const TAIL_BYTES = 4 * 1024;
/** How long the bodies may take to go out before the hold starts anyway. */
const SEND_TIMEOUT_MS = 120_000;
const BOUNDARY = '----fedxrayFloodBenchmark';

/** What one flood connection got by the end of the hold. */
export type Outcome = 'busy' | 'held' | 'closed' | `status ${number}`;

export interface FloodConnection {
  connection: RawConnection;
  /** Set when an answer came: its status, error code and ms after the headers were written. */
  answer?: { status: number; code: string | undefined; retryAfter: string | undefined; ms: number };
  sendError?: string;
}

/** A multipart upload of exactly `bytes` (its file: zeros; never completed, so never decoded). */
export function floodBody(bytes: number): Buffer {
  const overhead = multipartBody(BOUNDARY, Buffer.alloc(0), 'flood.jpg').length;
  return multipartBody(BOUNDARY, Buffer.alloc(bytes - overhead), 'flood.jpg');
}

export function requestHead(bodyLength: number): Buffer {
  return Buffer.from(
    'POST /diagnose HTTP/1.1\r\nhost: 127.0.0.1\r\n' +
      `content-type: multipart/form-data; boundary=${BOUNDARY}\r\n` +
      `content-length: ${bodyLength}\r\n\r\n`,
  );
}

/** The first sample JPEG, as a multipart body. */
export function sampleBody(): Buffer {
  const first = sampleJpegs('NORMAL')[0];
  if (!first) throw new Error(`no sample JPEG in ${join(SAMPLE_DATA_DIR, 'NORMAL')}`);
  return multipartBody(BOUNDARY, readFileSync(first.path), first.name);
}

/** One whole /diagnose of a sample JPEG over a fresh socket: its status. */
export async function diagnoseSample(port: number, body: Buffer): Promise<number> {
  const connection = await RawConnection.open(port);
  try {
    await connection.write(Buffer.concat([requestHead(body.length), body]));
    return (await connection.response(60_000)).status;
  } finally {
    connection.abort();
  }
}

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
export async function sendFlood(
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
export function trackServerSockets(app: InferenceApp): {
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
export function heldBytesRead(
  floods: FloodConnection[],
  byClientPort: Map<number, Socket>,
): number {
  let bytes = 0;
  for (const flood of floods) {
    if (outcomeOf(flood) !== 'held') continue;
    const port = flood.connection.socket.localPort;
    bytes += (port === undefined ? undefined : byClientPort.get(port))?.bytesRead ?? 0;
  }
  return bytes;
}

export function countOutcomes(floods: FloodConnection[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const flood of floods) {
    const outcome = outcomeOf(flood);
    counts[outcome] = (counts[outcome] ?? 0) + 1;
  }
  return counts;
}

export function busyLatencyMs(floods: FloodConnection[]): { p50: number; max: number } | null {
  const ms = floods
    .filter((f) => outcomeOf(f) === 'busy')
    .map((f) => f.answer?.ms ?? NaN)
    .sort((a, b) => a - b);
  if (ms.length === 0) return null;
  return { p50: round(percentile(ms, 50)), max: round(ms[ms.length - 1]) };
}
