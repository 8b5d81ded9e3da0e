/** The site's operating point: PUT/DELETE /models/current/threshold, its file and audit. */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppDeps, InferenceApp } from '../../services/inference-api/app.ts';
import { readInferenceConfig, type InferenceConfig } from '../../services/inference-api/config.ts';
import {
  OPERATING_POINT_AUDIT_FILE,
  OPERATING_POINT_FILE,
} from '../../services/inference-api/lib/operating-point.ts';
import { ConfigError } from '../../shared/service/config.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { sampleJpeg, writeTinyModelDir } from './fixtures.ts';
import { buildInferenceApp } from './test-app.ts';

const TOKEN = 'admin-token-0123456789abcdef';
const TOKEN_PREFIX = createHash('sha256').update(TOKEN).digest('hex').slice(0, 8);

let dir: string;
let stateDir: string;
const apps: InferenceApp[] = [];
const logLines: string[] = [];

beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'fedxray-operating-point-'));
  stateDir = join(dir, 'state');
  await writeTinyModelDir(join(dir, 'model-a'), 1);
  await writeTinyModelDir(join(dir, 'model-b'), 2);
});

afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await rm(dir, { recursive: true, force: true });
});

async function start(
  overrides: Partial<InferenceConfig> = {},
  logger: AppDeps['logger'] = false,
): Promise<InferenceApp> {
  const app = await buildInferenceApp(
    {
      modelDir: join(dir, 'model-a'),
      maxUploadBytes: 1024 * 1024,
      adminToken: TOKEN,
      stateDir,
      ...overrides,
    },
    { logger },
  );
  apps.push(app);
  await app.ready();
  return app;
}

/** `token` null: no Authorization header. */
function put(app: InferenceApp, body: object, token: string | null = TOKEN): request.Test {
  const req = request(app.server).put('/models/current/threshold');
  return (token === null ? req : req.set('authorization', `Bearer ${token}`)).send(body);
}

async function diagnose(app: InferenceApp, label: 'NORMAL' | 'PNEUMONIA') {
  const res = await request(app.server)
    .post('/diagnose')
    .attach('image', sampleJpeg(label), 'x.jpg');
  expect(res.status).toBe(200);
  return res.body as { label: string; probability: number; threshold: number };
}

async function auditLines(): Promise<Record<string, unknown>[]> {
  const text = await readFile(join(stateDir, OPERATING_POINT_AUDIT_FILE), 'utf8');
  return text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('the site operating point', () => {
  let app: InferenceApp;
  let sha256: string;

  beforeAll(async () => {
    const stream = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    app = await start({}, { level: 'info', stream });
    sha256 = (await request(app.server).get('/models/current')).body.sha256;
  });

  it("starts at the model's own threshold", async () => {
    const res = await request(app.server).get('/models/current');
    expect(res.body).toMatchObject({
      threshold: 0.5,
      modelThreshold: 0.5,
      thresholdSource: 'model',
      operatingPoint: null,
    });
  });

  it('refuses a missing or wrong token (401, before the body) and bad bodies (400)', async () => {
    const missing = await put(app, { threshold: 2 }, null);
    expect(missing.status).toBe(401);
    expect(missing.body.error.code).toBe('missing-admin-token');
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
    const wrong = await put(app, { threshold: 0.3, reason: 'x' }, 'not-the-admin-token-0000');
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('invalid-admin-token');
    const del = await request(app.server).delete('/models/current/threshold');
    expect(del.status).toBe(401);
    for (const body of [
      { threshold: 1.5, reason: 'too high' },
      { threshold: -0.1, reason: 'too low' },
      { threshold: 0.3 },
      { threshold: 0.3, reason: '' },
      { threshold: 0.3, reason: 'x'.repeat(501) },
      { threshold: 0.3, reason: 'x', extra: true },
      { threshold: 0.3, reason: 'x', basis: { n: 0 } },
      { threshold: 0.3, reason: 'x', basis: { n: 5, target: { metric: 'accuracy', value: 1 } } },
    ]) {
      const res = await put(app, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect(existsSync(join(stateDir, OPERATING_POINT_AUDIT_FILE))).toBe(false);
    expect((await request(app.server).get('/models/current')).body.thresholdSource).toBe('model');
  });

  it('labels every image PNEUMONIA at threshold 0 and NORMAL at 1', async () => {
    const basis = {
      n: 12,
      target: { metric: 'sensitivity', value: 0.95 },
      sensitivity: 1,
      specificity: 0.25,
    };
    const set = await put(app, { threshold: 0, reason: 'screening', basis });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({
      sha256,
      threshold: 0,
      modelThreshold: 0.5,
      thresholdSource: 'site',
      operatingPoint: { threshold: 0, reason: 'screening', basis, setAt: expect.any(String) },
    });
    expect((await request(app.server).get('/models/current')).body).toEqual(set.body);
    for (const label of ['NORMAL', 'PNEUMONIA'] as const) {
      expect(await diagnose(app, label)).toMatchObject({ label: 'PNEUMONIA', threshold: 0 });
    }

    expect((await put(app, { threshold: 1, reason: 'no alarms' })).status).toBe(200);
    for (const label of ['NORMAL', 'PNEUMONIA'] as const) {
      const diagnosis = await diagnose(app, label);
      expect(diagnosis.probability).toBeLessThan(1);
      expect(diagnosis).toMatchObject({ label: 'NORMAL', threshold: 1 });
    }
    const current = (await request(app.server).get('/models/current')).body;
    expect(current.operatingPoint).toMatchObject({ threshold: 1, basis: null });
  });

  it('keeps it across a restart on the same STATE_DIR', async () => {
    const again = await start();
    const current = (await request(again.server).get('/models/current')).body;
    expect(current).toMatchObject({ threshold: 1, thresholdSource: 'site', sha256 });
    expect((await diagnose(again, 'PNEUMONIA')).threshold).toBe(1);
  });

  it('does not apply it to another model', async () => {
    const other = await start({ modelDir: join(dir, 'model-b') });
    const current = (await request(other.server).get('/models/current')).body;
    expect(current.sha256).not.toBe(sha256);
    expect(current).toMatchObject({
      threshold: 0.5,
      modelThreshold: 0.5,
      thresholdSource: 'model',
      operatingPoint: null,
    });
    expect((await diagnose(other, 'PNEUMONIA')).threshold).toBe(0.5);
  });

  it("DELETE goes back to the model's threshold", async () => {
    const res = await request(app.server)
      .delete('/models/current/threshold')
      .query({ reason: 'validation over' })
      .set('authorization', `Bearer ${TOKEN}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      threshold: 0.5,
      thresholdSource: 'model',
      operatingPoint: null,
    });
    expect((await diagnose(app, 'PNEUMONIA')).threshold).toBe(0.5);
    // Nothing to clear: answered, not audited.
    const again = await request(app.server)
      .delete('/models/current/threshold')
      .set('authorization', `Bearer ${TOKEN}`);
    expect(again.status).toBe(200);
  });

  it('audits one line per change, logs each, and never writes the token', async () => {
    const lines = await auditLines();
    expect(lines.map((l) => [l.action, l.oldThreshold, l.newThreshold, l.reason])).toEqual([
      ['set', 0.5, 0, 'screening'],
      ['set', 0, 1, 'no alarms'],
      ['clear', 1, 0.5, 'validation over'],
    ]);
    for (const line of lines) {
      expect(line).toMatchObject({
        time: expect.any(String),
        modelId: expect.stringMatching(/^local-/),
        sha256,
        by: { ip: expect.any(String), tokenSha256Prefix: TOKEN_PREFIX },
      });
    }
    expect(lines[0].basis).toMatchObject({ n: 12, target: { metric: 'sensitivity' } });
    const audit = await readFile(join(stateDir, OPERATING_POINT_AUDIT_FILE), 'utf8');
    const state = await readFile(join(stateDir, OPERATING_POINT_FILE), 'utf8');
    const logs = logLines.join('');
    for (const text of [audit, state, logs]) expect(text).not.toContain(TOKEN);
    expect(logs).toContain('site operating point set');
    expect(logs).toContain('site operating point cleared');
    expect(JSON.parse(state)).toMatchObject({ models: {} });
  });

  it('marks both routes with bearer security in the OpenAPI document', async () => {
    const doc = (await app.inject({ url: '/docs/json' })).json();
    expect(doc.components.securitySchemes.bearerAuth).toEqual({ type: 'http', scheme: 'bearer' });
    const path = doc.paths['/models/current/threshold'];
    for (const op of [path.put, path.delete]) {
      expect(op.security).toEqual([{ bearerAuth: [] }]);
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['401', '403', '404']));
    }
  });
});

describe('the admin routes without ADMIN_TOKEN or a model', () => {
  it('answer 403 admin-disabled without ADMIN_TOKEN', async () => {
    const app = await start({ adminToken: undefined, stateDir: join(dir, 'disabled') });
    const res = await put(app, { threshold: 0.3, reason: 'x' });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('admin-disabled');
    expect(res.body.error.message).toContain('ADMIN_TOKEN');
  });

  it('answer 404 no-model while no model is loaded', async () => {
    const app = await start({ modelDir: undefined, stateDir: join(dir, 'no-model') });
    const res = await put(app, { threshold: 0.3, reason: 'x' });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('no-model');
  });
});

describe('STATE_DIR and ADMIN_TOKEN', () => {
  it('refuses to start on a corrupt operating-point file, naming it', async () => {
    const corrupt = join(dir, 'corrupt');
    await mkdir(corrupt);
    const file = join(corrupt, OPERATING_POINT_FILE);
    for (const content of ['{"format": "fedxray-operating-po', '{"format":"other","version":1}']) {
      await writeFile(file, content);
      const attempt = start({ stateDir: corrupt });
      await expect(attempt).rejects.toThrow(ConfigError);
      await expect(attempt).rejects.toThrow(file);
    }
  });

  it('reads ADMIN_TOKEN and STATE_DIR; a short token is refused without being shown', () => {
    const config = readInferenceConfig({
      MODEL_DIR: '/models/m',
      ADMIN_TOKEN: TOKEN,
      STATE_DIR: '/var/lib/fedxray',
    });
    expect(config).toMatchObject({ adminToken: TOKEN, stateDir: '/var/lib/fedxray' });
    expect(readInferenceConfig({ MODEL_DIR: '/models/m' }).stateDir).toBeUndefined();
    const short = (): unknown =>
      readInferenceConfig({ MODEL_DIR: '/m', ADMIN_TOKEN: 'short-secret' });
    expect(short).toThrow(/ADMIN_TOKEN: .*12 characters, not shown/);
    expect(short).not.toThrow(/short-secret/);
  });
});
