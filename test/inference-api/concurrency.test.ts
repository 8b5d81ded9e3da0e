/**
 * MAX_CONCURRENT_DIAGNOSES: POST /diagnose requests in flight at once are capped; beyond the
 * cap the answer is 503 busy before the body is read, and every way a request can end gives
 * its slot back. Slow uploads are raw sockets that send the headers and part of the body, then
 * wait.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferenceApp } from '../../services/inference-api/app.ts';
import { readInferenceConfig, type InferenceConfig } from '../../services/inference-api/config.ts';
import { InFlightLimit } from '../../services/inference-api/lib/in-flight.ts';
import { ConfigError } from '../../shared/service/config.ts';
import { tf } from '../../shared/tf/tf.ts';
import { RawConnection, type RawResponse } from '../helpers/raw-http.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { sampleJpeg, tinyPng, writeTinyModelDir } from './fixtures.ts';
import { buildInferenceApp } from './test-app.ts';

const MAX_UPLOAD_BYTES = 1024 * 1024;
const KEY_A = 'key-a-0123456789abcdef';
const KEY_B = 'key-b-fedcba9876543210';
const BOUNDARY = 'fedxray-concurrency-boundary';
const root = new URL('../..', import.meta.url).pathname;

let dir: string;
const apps: InferenceApp[] = [];
let tensorsBefore: number;

beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'fedxray-concurrency-'));
  await writeTinyModelDir(join(dir, 'model'));
});

afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await rm(dir, { recursive: true, force: true });
});

/** An app listening on an ephemeral port (rate limit off unless overridden). */
async function start(overrides: Partial<InferenceConfig>): Promise<{
  app: InferenceApp;
  port: number;
}> {
  const app = await buildInferenceApp({
    modelDir: join(dir, 'model'),
    maxUploadBytes: MAX_UPLOAD_BYTES,
    rateLimitPerMinute: 0,
    requestTimeoutMs: 0,
    ...overrides,
  });
  apps.push(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, port: (app.server.address() as net.AddressInfo).port };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function multipartBody(image: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="x.jpg"\r\n` +
        'Content-Type: image/jpeg\r\n\r\n',
    ),
    image,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
}

function head(bodyLength: number, headers: Record<string, string> = {}): string {
  const all = {
    host: '127.0.0.1',
    'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
    'content-length': String(bodyLength),
    ...headers,
  };
  return (
    'POST /diagnose HTTP/1.1\r\n' +
    Object.entries(all)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('') +
    '\r\n'
  );
}

/** An upload that sent its headers and half its body and now waits (it holds a slot). */
interface HeldUpload {
  connection: RawConnection;
  /** Sends the rest of the body; resolves the answer. */
  complete(): Promise<RawResponse>;
}

async function holdUpload(
  port: number,
  headers: Record<string, string> = {},
  image: Buffer = sampleJpeg(),
): Promise<HeldUpload> {
  const body = multipartBody(image);
  const half = Math.floor(body.length / 2);
  const connection = await RawConnection.open(port);
  await connection.write(
    Buffer.concat([Buffer.from(head(body.length, headers)), body.subarray(0, half)]),
  );
  return {
    connection,
    complete: async () => {
      await connection.write(body.subarray(half));
      return connection.response();
    },
  };
}

interface ReadyBody {
  inFlight: number;
  maxConcurrentDiagnoses: number;
}

async function ready(app: InferenceApp): Promise<ReadyBody> {
  const res = await app.inject({ url: '/ready' });
  expect(res.statusCode).toBe(200);
  return res.json<ReadyBody>();
}

/** Waits until /ready reports `count` requests in flight. */
async function inFlightReaches(app: InferenceApp, count: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  while (Date.now() < deadline) {
    last = (await ready(app)).inFlight;
    if (last === count) return;
    await sleep(10);
  }
  throw new Error(`inFlight stayed at ${last}, expected ${count}`);
}

function diagnose(app: InferenceApp, image: Buffer = sampleJpeg()): request.Test {
  return request(app.server).post('/diagnose').attach('image', image, 'x.jpg');
}

describe('MAX_CONCURRENT_DIAGNOSES = 2', () => {
  let app: InferenceApp;
  let port: number;

  beforeAll(async () => {
    ({ app, port } = await start({ maxConcurrentDiagnoses: 2 }));
    expect((await diagnose(app)).status).toBe(200); // warm up: the model's tensors are built
    tensorsBefore = tf.memory().numTensors;
  });

  it('reports the cap and the requests in flight in GET /ready', async () => {
    expect(await ready(app)).toMatchObject({ ready: true, inFlight: 0, maxConcurrentDiagnoses: 2 });
  });

  it('answers a third request 503 busy with retry-after at once, without reading its body', async () => {
    const first = await holdUpload(port);
    const second = await holdUpload(port);
    await inFlightReaches(app, 2);

    // Headers only: the body it announces is never sent before the answer.
    const body = multipartBody(sampleJpeg());
    const third = await RawConnection.open(port);
    const started = Date.now();
    await third.write(head(body.length));
    const refused = await third.response(2000);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    const error = JSON.parse(refused.body).error;
    expect(error).toMatchObject({
      code: 'busy',
      requestId: refused.headers['x-request-id'],
      details: { maxConcurrentDiagnoses: 2, retryAfterSeconds: 1 },
    });
    expect(error.message).toEqual(expect.any(String));
    expect((await ready(app)).inFlight).toBe(2); // the refusal took no slot

    // The connection stays usable: the body it then sends is discarded, the next request on it
    // is answered.
    await third.write(body);
    await third.write('GET /ready HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
    const next = await third.response();
    expect(next.status).toBe(200);
    expect(JSON.parse(next.body)).toMatchObject({ inFlight: 2, maxConcurrentDiagnoses: 2 });
    third.abort();

    // The two held uploads finish normally; then a new request is taken.
    const [a, b] = await Promise.all([first.complete(), second.complete()]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(JSON.parse(a.body).label).toMatch(/^(NORMAL|PNEUMONIA)$/);
    first.connection.abort();
    second.connection.abort();
    await inFlightReaches(app, 0);
    expect((await diagnose(app)).status).toBe(200);
    expect((await ready(app)).inFlight).toBe(0);
  });

  it('gives the slot of a client that hangs up mid-upload back', async () => {
    const first = await holdUpload(port);
    const second = await holdUpload(port);
    await inFlightReaches(app, 2);
    expect((await diagnose(app)).status).toBe(503);

    first.connection.abort();
    await inFlightReaches(app, 1);
    expect((await diagnose(app)).status).toBe(200);
    second.connection.abort();
    await inFlightReaches(app, 0);
  });

  it('gives the slot back when the client hangs up after its whole upload', async () => {
    for (let i = 0; i < 5; i++) {
      const body = multipartBody(sampleJpeg());
      const connection = await RawConnection.open(port);
      await connection.write(Buffer.concat([Buffer.from(head(body.length)), body]));
      connection.abort();
    }
    await inFlightReaches(app, 0);
    expect((await diagnose(app)).status).toBe(200);
  });

  it('gives the slots of refused uploads back (corrupt, too large, malformed, not multipart)', async () => {
    // One slot held: each refusal below must free the only other one for the next to be taken.
    const held = await holdUpload(port);
    await inFlightReaches(app, 1);
    const big = Buffer.concat([sampleJpeg(), Buffer.alloc(MAX_UPLOAD_BYTES)]);
    const tiny = await tinyPng(10);
    const cases: [() => request.Test, number, string][] = [
      [() => diagnose(app, Buffer.from('not an image at all')), 400, 'corrupt'],
      [() => diagnose(app, Buffer.alloc(0)), 400, 'empty'],
      [() => diagnose(app, tiny), 400, 'too-small'],
      [() => diagnose(app, big), 413, 'file-too-large'],
      [
        () => request(app.server).post('/diagnose').send({ image: 'aGVsbG8=' }),
        415,
        'not-multipart',
      ],
      [
        () =>
          request(app.server)
            .post('/diagnose')
            .set('content-type', `multipart/form-data; boundary=${BOUNDARY}`)
            .send(
              `--${BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="a"\r\n\r\nab`,
            ),
        400,
        'invalid-multipart',
      ],
      [() => request(app.server).post('/diagnose').field('other', 'x'), 400, 'missing-image'],
    ];
    for (let round = 0; round < 2; round++) {
      for (const [send, status, code] of cases) {
        const res = await send();
        expect(res.status, code).toBe(status);
        expect(res.body.error.code).toBe(code);
        await inFlightReaches(app, 1);
      }
    }
    expect((await held.complete()).status).toBe(200);
    held.connection.abort();
    await inFlightReaches(app, 0);
  });

  it('gives the slots of app.inject requests back (no real socket)', async () => {
    const payload = multipartBody(sampleJpeg());
    const headers = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` };
    for (let i = 0; i < 5; i++) {
      const res = await app.inject({ method: 'POST', url: '/diagnose', headers, payload });
      expect(res.statusCode).toBe(200);
    }
    expect((await ready(app)).inFlight).toBe(0);
  });

  it('keeps tf.memory().numTensors where it was after all of the above', async () => {
    await inFlightReaches(app, 0);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });
});

describe('with API keys and a rate limit', () => {
  it('checks the key (401) and the rate limit (429) before the cap: they take no slot', async () => {
    const { app, port } = await start({
      maxConcurrentDiagnoses: 1,
      apiKeys: [KEY_A, KEY_B],
      rateLimitPerMinute: 1,
    });
    const held = await holdUpload(port, { 'x-api-key': KEY_A });
    await inFlightReaches(app, 1);

    for (let i = 0; i < 5; i++) {
      const res = await diagnose(app);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('missing-api-key');
    }
    const limited = await diagnose(app).set('x-api-key', KEY_A);
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('rate-limited');
    const busy = await diagnose(app).set('x-api-key', KEY_B);
    expect(busy.status).toBe(503);
    expect(busy.body.error.code).toBe('busy');
    expect(busy.headers['retry-after']).toBe('1');
    expect(busy.headers['x-ratelimit-remaining']).toBe('0'); // a busy answer costs a token
    expect((await ready(app)).inFlight).toBe(1);

    expect((await held.complete()).status).toBe(200);
    held.connection.abort();
    await inFlightReaches(app, 0);
  });
});

describe('REQUEST_TIMEOUT_MS', () => {
  it('gives the slot of an upload cut at the deadline (408) back', async () => {
    const { app, port } = await start({ maxConcurrentDiagnoses: 1, requestTimeoutMs: 1000 });
    const held = await holdUpload(port);
    await inFlightReaches(app, 1);
    expect((await diagnose(app)).status).toBe(503);
    const cut = await held.connection.response(5000);
    expect(cut.status).toBe(408);
    await held.connection.closedByServer();
    await inFlightReaches(app, 0);
    expect((await diagnose(app)).status).toBe(200);
  });
});

describe('MAX_CONCURRENT_DIAGNOSES = 0 (no cap)', () => {
  it('takes more requests than any cap, still counting them', async () => {
    const { app, port } = await start({ maxConcurrentDiagnoses: 0 });
    const held = await Promise.all([holdUpload(port), holdUpload(port), holdUpload(port)]);
    await inFlightReaches(app, 3);
    expect((await ready(app)).maxConcurrentDiagnoses).toBe(0);
    expect((await diagnose(app)).status).toBe(200);
    const answers = await Promise.all(held.map((upload) => upload.complete()));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    for (const upload of held) upload.connection.abort();
    await inFlightReaches(app, 0);
  });
});

describe('InFlightLimit', () => {
  /** The parts of a request and reply the hook uses, as bare event emitters. */
  function exchange(): {
    request: FastifyRequest;
    reply: FastifyReply;
    res: EventEmitter;
    socket: EventEmitter;
  } {
    const res = new EventEmitter();
    const socket = new EventEmitter();
    const headers: Record<string, string> = {};
    const reply = {
      raw: res,
      header: (name: string, value: string) => void (headers[name] = value),
    } as unknown as FastifyReply;
    return { request: { raw: { socket } } as unknown as FastifyRequest, reply, res, socket };
  }

  it('holds a slot until the exchange is over and the handler done, once', async () => {
    const limit = new InFlightLimit(1);
    const a = exchange();
    await limit.onRequest(a.request, a.reply);
    expect(limit.count).toBe(1);
    await expect(limit.onRequest(exchange().request, exchange().reply)).rejects.toMatchObject({
      statusCode: 503,
      code: 'busy',
    });

    // The client hangs up while the handler still works on its upload: still held.
    let finishWork!: () => void;
    const work = limit.run(a.request, () => new Promise<void>((r) => (finishWork = r)));
    a.res.emit('close');
    a.res.emit('finish');
    expect(limit.count).toBe(1);
    finishWork();
    await work;
    expect(limit.count).toBe(0);
    a.res.emit('close');
    expect(limit.count).toBe(0);

    // Answered before any handler ran (a refused body): free at once, and only once.
    const b = exchange();
    await limit.onRequest(b.request, b.reply);
    b.res.emit('finish');
    b.res.emit('close');
    expect(limit.count).toBe(0);
    await limit.run(b.request, async () => expect(limit.count).toBe(0));
    expect(limit.count).toBe(0);
  });

  it('frees the slot when only the connection closes (a pipelined request)', async () => {
    // Node emits neither 'finish' nor 'close' on a pipelined request's queued response when
    // the connection drops; only the socket says so.
    const limit = new InFlightLimit(1);
    const a = exchange();
    await limit.onRequest(a.request, a.reply);
    a.socket.emit('close');
    expect(limit.count).toBe(0);
    expect(a.socket.listenerCount('close')).toBe(0);
    expect(a.res.listenerCount('finish') + a.res.listenerCount('close')).toBe(0);
  });

  it('counts without refusing when the cap is 0', async () => {
    const limit = new InFlightLimit(0);
    for (let i = 0; i < 50; i++) {
      const { request, reply } = exchange();
      await limit.onRequest(request, reply);
    }
    expect(limit.count).toBe(50);
  });
});

describe('configuration', () => {
  const base = { MODEL_DIR: '/models/m' };

  it('reads MAX_CONCURRENT_DIAGNOSES; buildApp applies the default of 32', async () => {
    expect(readInferenceConfig(base).maxConcurrentDiagnoses).toBeUndefined();
    for (const [text, value] of [
      ['0', 0],
      ['1', 1],
      ['64', 64],
      ['10000', 10_000],
    ] as const) {
      expect(readInferenceConfig({ ...base, MAX_CONCURRENT_DIAGNOSES: text })).toMatchObject({
        maxConcurrentDiagnoses: value,
      });
    }
    const { app } = await start({ maxConcurrentDiagnoses: undefined });
    expect(await ready(app)).toMatchObject({ inFlight: 0, maxConcurrentDiagnoses: 32 });
    const doc = (await app.inject({ url: '/docs/json' })).json();
    const post = doc.paths['/diagnose'].post;
    expect(post.description).toContain('At most 32 requests in flight');
    expect(post.responses['503'].description).toMatch(/`busy`/);
  });

  it('refuses a bad MAX_CONCURRENT_DIAGNOSES, naming the variable', async () => {
    for (const bad of ['-1', 'many', '10001', 'off']) {
      const read = (): unknown => readInferenceConfig({ ...base, MAX_CONCURRENT_DIAGNOSES: bad });
      expect(read, bad).toThrow(ConfigError);
      expect(read, bad).toThrow(/MAX_CONCURRENT_DIAGNOSES: /);
    }
    // A config built in code is checked too.
    await expect(start({ maxConcurrentDiagnoses: -1 })).rejects.toThrow(RangeError);
    expect(() => new InFlightLimit(1.5)).toThrow(/integer from 0 to 10000/);
  });

  it('refuses to start from main.ts (exit 1, the variable named, no stack trace)', async () => {
    const { code, output } = await new Promise<{ code: number | null; output: string }>(
      (resolve, reject) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', 'services/inference-api/main.ts'],
          { cwd: root, env: { ...process.env, MODEL_DIR: dir, MAX_CONCURRENT_DIAGNOSES: 'lots' } },
        );
        let text = '';
        child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        child.on('error', reject);
        child.on('close', (exit) => resolve({ code: exit, output: text }));
      },
    );
    expect(code).toBe(1);
    expect(output).toMatch(/MAX_CONCURRENT_DIAGNOSES: .*\(got "lots"\)/);
    expect(output).not.toMatch(/\n\s+at /);
  });
});
