import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  INFERENCE_REDACTED_PATHS,
  type AppDeps,
  type InferenceApp,
} from '../../services/inference-api/app.ts';
import { readInferenceConfig, type InferenceConfig } from '../../services/inference-api/config.ts';
import { RateLimiter } from '../../services/inference-api/lib/rate-limit.ts';
import { ConfigError } from '../../shared/service/config.ts';
import { REDACTED_PATHS } from '../../shared/service/create-app.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { sampleJpeg, writeTinyModelDir } from './fixtures.ts';
import { buildInferenceApp } from './test-app.ts';

const KEY_A = 'key-a-0123456789abcdef';
const KEY_B = 'key-b-fedcba9876543210';

let dir: string;
const apps: InferenceApp[] = [];

beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'fedxray-api-keys-'));
  await writeTinyModelDir(join(dir, 'model'));
});

afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await rm(dir, { recursive: true, force: true });
});

/** A fake clock for the rate limiter: milliseconds, moved by hand. */
function fakeClock(): { now: () => number; advance(ms: number): void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

async function start(
  overrides: Partial<InferenceConfig>,
  deps: AppDeps = {},
): Promise<InferenceApp> {
  const app = await buildInferenceApp(
    { modelDir: join(dir, 'model'), maxUploadBytes: 1024 * 1024, ...overrides },
    deps,
  );
  apps.push(app);
  await app.ready();
  return app;
}

const BOUNDARY = 'fedxray-test-boundary';
const IMAGE_BODY = Buffer.concat([
  Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="x.jpg"\r\n` +
      'Content-Type: image/jpeg\r\n\r\n',
  ),
  sampleJpeg(),
  Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
]);

function post(
  app: InferenceApp,
  headers: Record<string, string> = {},
  remoteAddress = '127.0.0.1',
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/diagnose',
    remoteAddress,
    headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, ...headers },
    payload: IMAGE_BODY,
  });
}

describe('API_KEYS and RATE_LIMIT_PER_MINUTE configuration', () => {
  const base = { MODEL_DIR: '/models/m' };

  it('is off without API_KEYS; the rate limit default is applied by buildApp', () => {
    const config = readInferenceConfig(base);
    expect(config.apiKeys).toBeUndefined();
    expect(config.rateLimitPerMinute).toBeUndefined();
    expect(readInferenceConfig({ ...base, API_KEYS: '' }).apiKeys).toBeUndefined();
    expect(readInferenceConfig({ ...base, API_KEYS: ' , ,' }).apiKeys).toBeUndefined();
  });

  it('reads a comma-separated key list and the limit', () => {
    const config = readInferenceConfig({
      ...base,
      API_KEYS: ` ${KEY_A}, ${KEY_B} ,,${KEY_A}`,
      RATE_LIMIT_PER_MINUTE: '0',
    });
    expect(config.apiKeys).toEqual([KEY_A, KEY_B]);
    expect(config.rateLimitPerMinute).toBe(0);
    expect(readInferenceConfig({ ...base, RATE_LIMIT_PER_MINUTE: '30' }).rateLimitPerMinute).toBe(
      30,
    );
  });

  it('refuses short keys and bad limits, naming the variable but never the key', () => {
    const read = (): unknown =>
      readInferenceConfig({
        ...base,
        API_KEYS: `${KEY_A},short-secret`,
        RATE_LIMIT_PER_MINUTE: '-1',
      });
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(/RATE_LIMIT_PER_MINUTE: .*\n.*API_KEYS: key 2 is 12 characters/);
    try {
      read();
    } catch (error) {
      expect((error as Error).message).not.toContain('short-secret');
    }
    expect(() => readInferenceConfig({ ...base, RATE_LIMIT_PER_MINUTE: 'many' })).toThrow(
      /RATE_LIMIT_PER_MINUTE/,
    );
    expect(() => readInferenceConfig({ ...base, API_KEYS: 'key with spaces in it!!' })).toThrow(
      /API_KEYS: key 1 has a character/,
    );
  });
});

describe('RateLimiter (token bucket)', () => {
  it('allows a burst of perMinute, then refills at perMinute / 60 a second', () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ perMinute: 6, now: clock.now });
    for (let i = 5; i >= 0; i--) expect(limiter.take('a')).toEqual({ allowed: true, remaining: i });
    expect(limiter.take('a')).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 10 });
    expect(limiter.take('b').allowed).toBe(true); // a bucket per client
    clock.advance(4_000);
    expect(limiter.take('a')).toMatchObject({ allowed: false, retryAfterSeconds: 6 });
    clock.advance(6_000);
    expect(limiter.take('a')).toEqual({ allowed: true, remaining: 0 });
    clock.advance(600_000); // long idle: back to a full bucket, never more
    expect(limiter.take('a')).toEqual({ allowed: true, remaining: 5 });
  });

  it('keeps at most maxBuckets clients, dropping the least recently used', () => {
    const limiter = new RateLimiter({ perMinute: 1, maxBuckets: 3, now: () => 0 });
    for (const client of ['a', 'b', 'c']) expect(limiter.take(client).allowed).toBe(true);
    expect(limiter.take('a').allowed).toBe(false); // a is now the most recently used
    expect(limiter.take('d').allowed).toBe(true); // drops b
    expect(limiter.size).toBe(3);
    expect(limiter.take('a').allowed).toBe(false); // a kept its empty bucket
    expect(limiter.take('b').allowed).toBe(true); // b starts again
    expect(() => new RateLimiter({ perMinute: 0 })).toThrow(RangeError);
  });
});

describe('POST /diagnose with API_KEYS', () => {
  let app: InferenceApp;
  const clock = fakeClock();
  const logLines: string[] = [];

  beforeAll(async () => {
    // The same redaction as buildApp's default logger, at the most verbose level (where
    // @fastify/multipart logs the request headers).
    const stream = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    app = await start(
      { apiKeys: [KEY_A, KEY_B], rateLimitPerMinute: 3 },
      { logger: { level: 'trace', redact: INFERENCE_REDACTED_PATHS, stream }, now: clock.now },
    );
  });

  it('answers 401 missing-api-key without a key, before reading the upload', async () => {
    const res = await post(app);
    expect(res.statusCode).toBe(401);
    expect(res.json().error).toMatchObject({
      code: 'missing-api-key',
      requestId: res.headers['x-request-id'],
    });
    expect(res.headers['www-authenticate']).toBe('Bearer realm="fedxray-inference-api"');
    // Other schemes and an empty header are "missing" too.
    expect((await post(app, { authorization: `Basic ${KEY_A}` })).json().error.code).toBe(
      'missing-api-key',
    );
    expect((await post(app, { 'x-api-key': '' })).json().error.code).toBe('missing-api-key');
  });

  it('answers 401 invalid-api-key for a wrong key, without echoing it', async () => {
    const attempts: Record<string, string>[] = [
      { 'x-api-key': 'wrong-key-0123456789' },
      { authorization: 'Bearer wrong-key-0123456789' },
      { 'x-api-key': KEY_A.slice(0, -1) }, // a prefix of a real key
      { 'x-api-key': `${KEY_A}x` },
    ];
    for (const headers of attempts) {
      const res = await post(app, headers);
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('invalid-api-key');
      expect(res.body).not.toContain('wrong-key');
      expect(res.body).not.toContain(KEY_A.slice(0, 10));
    }
  });

  it('diagnoses with a valid key in x-api-key or Authorization: Bearer', async () => {
    const viaHeader = await post(app, { 'x-api-key': KEY_A });
    expect(viaHeader.statusCode).toBe(200);
    expect(viaHeader.json().label).toMatch(/^(NORMAL|PNEUMONIA)$/);
    expect(viaHeader.headers['x-ratelimit-limit']).toBe('3');
    const viaBearer = await post(app, { authorization: `Bearer ${KEY_B}` });
    expect(viaBearer.statusCode).toBe(200);
  });

  it('limits each key to RATE_LIMIT_PER_MINUTE with 429 rate-limited and retry-after', async () => {
    clock.advance(120_000); // full buckets
    // Failed keys take no token from anyone.
    for (let i = 0; i < 5; i++) expect((await post(app)).statusCode).toBe(401);
    for (let i = 0; i < 3; i++) {
      const res = await post(app, { 'x-api-key': KEY_A });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-ratelimit-remaining']).toBe(String(2 - i));
    }
    const limited = await post(app, { authorization: `Bearer ${KEY_A}` }); // same key, other header
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('20');
    expect(limited.json().error).toMatchObject({
      code: 'rate-limited',
      details: { limitPerMinute: 3, retryAfterSeconds: 20 },
    });
    // Per key, not per IP: key B (same address) still has its tokens.
    expect((await post(app, { 'x-api-key': KEY_B })).statusCode).toBe(200);
    clock.advance(19_000);
    expect((await post(app, { 'x-api-key': KEY_A })).headers['retry-after']).toBe('1');
    clock.advance(1_000);
    expect((await post(app, { 'x-api-key': KEY_A })).statusCode).toBe(200);
  });

  it('needs no key for the other routes', async () => {
    for (const url of ['/health', '/ready', '/models/current', '/info']) {
      expect((await app.inject({ url })).statusCode, url).toBe(200);
    }
  });

  it('never writes a key to the logs', async () => {
    await post(app, { 'x-api-key': KEY_A });
    await post(app, { 'x-api-key': 'wrong-key-0123456789' });
    expect(logLines.length).toBeGreaterThan(10);
    const logs = logLines.join('');
    for (const secret of [KEY_A, KEY_B, 'wrong-key-0123456789']) {
      expect(logs).not.toContain(secret);
    }
    expect(logs).toContain('"x-api-key":"[Redacted]"'); // multipart's trace line, redacted
    // createServiceApp's default logger redacts both headers that can carry a key too.
    expect(REDACTED_PATHS).toEqual(
      expect.arrayContaining(['req.headers.authorization', 'req.headers["x-api-key"]']),
    );
  });

  it('documents the key as OpenAPI security schemes of POST /diagnose', async () => {
    const doc = (await app.inject({ url: '/docs/json' })).json();
    expect(doc.components.securitySchemes).toMatchObject({
      apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
      apiKeyBearer: { type: 'http', scheme: 'bearer' },
    });
    const op = doc.paths['/diagnose'].post;
    expect(op.security).toEqual([{ apiKey: [] }, { apiKeyBearer: [] }]);
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['401', '429']));
    expect(doc.paths['/health'].get.security).toBeUndefined();
  });
});

describe('POST /diagnose without API_KEYS (local mode)', () => {
  it('needs no key and limits per client IP', async () => {
    const clock = fakeClock();
    const app = await start({ rateLimitPerMinute: 2 }, { now: clock.now });
    expect((await post(app, {}, '10.0.0.1')).statusCode).toBe(200);
    expect((await post(app, { 'x-api-key': 'anything-at-all-123' }, '10.0.0.1')).statusCode).toBe(
      200,
    );
    const limited = await post(app, {}, '10.0.0.1');
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('30');
    expect((await post(app, {}, '10.0.0.2')).statusCode).toBe(200);
    const doc = (await app.inject({ url: '/docs/json' })).json();
    expect(doc.paths['/diagnose'].post.security).toBeUndefined();
    expect(Object.keys(doc.paths['/diagnose'].post.responses)).toContain('429');
  });

  it('applies the default of 120 a minute; RATE_LIMIT_PER_MINUTE=0 turns it off', async () => {
    const limited = await start({});
    const res = await post(limited);
    expect(res.headers['x-ratelimit-limit']).toBe('120');
    const unlimited = await start({ rateLimitPerMinute: 0 });
    for (let i = 0; i < 3; i++) {
      const r = await post(unlimited);
      expect(r.statusCode).toBe(200);
      expect(r.headers['x-ratelimit-limit']).toBeUndefined();
    }
  });
});

describe('API_KEYS_FILE (keys rotated without a restart)', () => {
  const KEY_C = 'key-c-00112233445566778899';

  it('re-reads the file when it changes: a new key works, a removed one is refused', async () => {
    const clock = fakeClock();
    const file = join(dir, 'keys-rotate.txt');
    await writeFile(file, `# diagnose clients\n${KEY_A}\n\n${KEY_B}\n`);
    const logLines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    const app = await start(
      { apiKeysFile: file, rateLimitPerMinute: 0 },
      { logger: { level: 'info', stream }, now: clock.now },
    );
    expect((await post(app, { 'x-api-key': KEY_A })).statusCode).toBe(200);
    expect((await post(app, { 'x-api-key': KEY_C })).statusCode).toBe(401);

    // Rotate: B stays, A is revoked, C is added.
    await writeFile(file, `${KEY_B}\n${KEY_C}\n`);
    await utimes(file, new Date(), new Date(Date.now() + 5000));
    clock.advance(1000);
    expect((await post(app, { 'x-api-key': KEY_A })).statusCode).toBe(401);
    expect((await post(app, { authorization: `Bearer ${KEY_C}` })).statusCode).toBe(200);
    expect((await post(app, { 'x-api-key': KEY_B })).statusCode).toBe(200);

    // A broken file (a short key) and then a removed file keep the keys in force.
    await writeFile(file, `${KEY_A}\nshort\n`);
    await utimes(file, new Date(), new Date(Date.now() + 10_000));
    clock.advance(1000);
    expect((await post(app, { 'x-api-key': KEY_C })).statusCode).toBe(200);
    expect((await post(app, { 'x-api-key': KEY_A })).statusCode).toBe(401);
    await rm(file);
    clock.advance(1000);
    expect((await post(app, { 'x-api-key': KEY_B })).statusCode).toBe(200);

    const logs = logLines.join('');
    expect(logs).toMatch(/API_KEYS_FILE re-read/);
    expect(logs).toMatch(/the key on line 2 is 5 characters.*previous 2 key\(s\) stay in force/);
    expect(logs).toMatch(/API_KEYS_FILE: cannot read .*ENOENT/);
    for (const secret of [KEY_A, KEY_B, KEY_C, 'short']) expect(logs).not.toContain(secret);
  });

  it('refuses to start on a missing, empty or bad file, and with API_KEYS too', async () => {
    const missing = join(dir, 'no-such-keys.txt');
    await expect(start({ apiKeysFile: missing })).rejects.toThrow(
      /API_KEYS_FILE: cannot read .*ENOENT/,
    );
    const empty = join(dir, 'keys-empty.txt');
    await writeFile(empty, '# nothing yet\n\n');
    await expect(start({ apiKeysFile: empty })).rejects.toThrow(/holds no key/);
    const bad = join(dir, 'keys-bad.txt');
    await writeFile(bad, `${KEY_A}\nkey with spaces in it!!\n`);
    await expect(start({ apiKeysFile: bad })).rejects.toThrow(
      /the key on line 2 has a character that is not printable ASCII/,
    );
    expect(() =>
      readInferenceConfig({ MODEL_DIR: dir, API_KEYS: KEY_A, API_KEYS_FILE: empty }),
    ).toThrow(/API_KEYS or API_KEYS_FILE, not both/);
    expect(readInferenceConfig({ MODEL_DIR: dir, API_KEYS_FILE: empty }).apiKeysFile).toBe(empty);
  });
});
