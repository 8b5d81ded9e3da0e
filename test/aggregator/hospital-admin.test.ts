// Hospital administration: token rotation (POST /hospitals/:id/token), disabling, enabling and
// moving a hospital (PATCH /hospitals/:id), GET /hospitals/:id. PGlite only.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../shared/db/index.ts';
import { hashToken } from '../../shared/service/auth.ts';
import { REDACTED_PATHS } from '../../shared/service/create-app.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { startFakeHospital, type FakeHospital } from './fake-hospital.ts';
import {
  ADMIN_TOKEN,
  freshState,
  json,
  registerHospital,
  startAggregator,
  TINY_RUN,
  waitForRun,
  type Aggregator,
} from './helpers.ts';

interface HospitalBody {
  id: string;
  name: string;
  baseUrl: string;
  status: string;
  tokenRotatedAt: string;
  createdAt: string;
}

interface RotatedBody {
  id: string;
  name: string;
  token: string;
  tokenRotatedAt: string;
}

interface ErrorBody {
  error: { code: string; message: string };
}

beforeAll(async () => {
  await useTestBackend();
});

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

let db: Database;
let agg: Aggregator;

async function setUp(logLines?: string[]): Promise<Aggregator> {
  const state = await freshState('pglite');
  cleanups.push(state.cleanup);
  db = state.test.db;
  agg = await startAggregator(db, state.stateDir, {
    deps: logLines
      ? {
          logger: {
            level: 'trace',
            redact: REDACTED_PATHS,
            stream: { write: (line: string) => logLines.push(line) },
          },
        }
      : {},
  });
  cleanups.push(() => agg.app.close());
  return agg;
}

/** A fake node registered under its name, with its token. */
async function hospital(name: string): Promise<FakeHospital & { id: string }> {
  const fake = await startFakeHospital(name, () => agg.url);
  cleanups.push(async () => {
    await fake.settled();
    await fake.close();
  });
  const { id, token } = await registerHospital(agg.url, name, fake.url);
  fake.token = token;
  return Object.assign(fake, { id });
}

const rotate = (id: string, token?: string) =>
  json<RotatedBody & ErrorBody>(`${agg.url}/hospitals/${id}/token`, { method: 'POST', token });

/** PATCH /hospitals/:id, as the admin unless told otherwise (null: no token). */
const patch = (id: string, body: unknown, token: string | null = ADMIN_TOKEN) =>
  json<HospitalBody & ErrorBody>(`${agg.url}/hospitals/${id}`, {
    method: 'PATCH',
    token: token ?? undefined,
    body: JSON.stringify(body),
  });

/** GET /models/:id/weights (an unknown model answers 404 once the token is accepted). */
async function download(
  modelId: string,
  token: string,
): Promise<{ status: number; body: ErrorBody }> {
  const res = await fetch(`${agg.url}/models/${modelId}/weights`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (res.ok) {
    await res.arrayBuffer();
    return { status: res.status, body: { error: { code: '', message: '' } } };
  }
  return { status: res.status, body: (await res.json()) as ErrorBody };
}

/** POST /rounds/x/updates: the token is checked before anything else. */
const upload = (token: string) =>
  json<ErrorBody>(`${agg.url}/rounds/no-such-run/updates`, { method: 'POST', token });

async function runOnce(): Promise<Awaited<ReturnType<typeof waitForRun>>> {
  const res = await json<{ id: string }>(`${agg.url}/rounds`, {
    method: 'POST',
    token: ADMIN_TOKEN,
    body: JSON.stringify({ ...TINY_RUN, rounds: 1 }),
  });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return waitForRun(agg.url, res.body.id);
}

describe('hospital token rotation', () => {
  it('issues a new token once, stores its hash, and the old token stops working', async () => {
    const lines: string[] = [];
    await setUp(lines);
    const a = await hospital('hospital-a');
    const oldToken = a.token;
    const before = await db.prisma.hospital.findUniqueOrThrow({ where: { id: a.id } });
    expect((await download('no-such-model', oldToken)).status).toBe(404);

    const rotated = await rotate(a.id, ADMIN_TOKEN);
    expect(rotated.status).toBe(200);
    expect(rotated.body).toEqual({
      id: a.id,
      name: 'hospital-a',
      token: expect.stringMatching(/^[\w-]{32}$/),
      tokenRotatedAt: expect.any(String),
    });
    const newToken = rotated.body.token;
    expect(newToken).not.toBe(oldToken);
    expect(Date.parse(rotated.body.tokenRotatedAt)).toBeGreaterThan(
      before.tokenRotatedAt.getTime() - 1,
    );

    // Only the hash is stored.
    const after = await db.prisma.hospital.findUniqueOrThrow({ where: { id: a.id } });
    expect(after.tokenHash).toBe(hashToken(newToken));
    expect(after.tokenHash).not.toBe(before.tokenHash);
    expect(after.tokenRotatedAt.toISOString()).toBe(rotated.body.tokenRotatedAt);
    const rows = JSON.stringify(await db.prisma.hospital.findMany());
    expect(rows).not.toContain(newToken);

    // The old token is unknown at once; the new one works.
    const old = await download('no-such-model', oldToken);
    expect(old.status).toBe(401);
    expect(old.body.error.code).toBe('unauthorized');
    expect((await upload(oldToken)).status).toBe(401);
    const fresh = await download('no-such-model', newToken);
    expect(fresh.status).toBe(404);
    expect(fresh.body.error.code).toBe('model-not-found');

    // GET /hospitals/:id shows the rotation, no token data.
    const shown = await json<HospitalBody>(`${agg.url}/hospitals/${a.id}`, { token: ADMIN_TOKEN });
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({
      id: a.id,
      status: 'active',
      tokenRotatedAt: rotated.body.tokenRotatedAt,
    });
    expect(JSON.stringify(shown.body)).not.toContain(after.tokenHash);

    // Audited, without the token or its hash.
    const events = await db.prisma.auditEvent.findMany({
      where: { action: 'hospital.token-rotated' },
    });
    expect(events).toEqual([
      expect.objectContaining({ actor: 'admin', subjectType: 'hospital', subjectId: a.id }),
    ]);
    const audit = JSON.stringify(await db.prisma.auditEvent.findMany());
    for (const secret of [oldToken, newToken, before.tokenHash, after.tokenHash]) {
      expect(audit).not.toContain(secret);
      for (const line of lines) expect(line).not.toContain(secret);
    }
  });

  it('is admin-only and answers 404 for an unknown hospital', async () => {
    await setUp();
    const a = await hospital('hospital-a');
    const asHospital = await rotate(a.id, a.token);
    expect(asHospital.status).toBe(403);
    expect(asHospital.body.error.code).toBe('forbidden');
    expect((await rotate(a.id)).status).toBe(401);
    expect((await rotate(a.id, 'not-a-token-at-all')).status).toBe(401);
    const unknown = await rotate('no-such-hospital', ADMIN_TOKEN);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('hospital-not-found');
    // Nothing changed.
    expect((await download('no-such-model', a.token)).status).toBe(404);
    expect(await db.prisma.auditEvent.count({ where: { action: 'hospital.token-rotated' } })).toBe(
      0,
    );
  });

  it('a node still on the old token refuses the signed dispatch; restarted with the new one it trains', async () => {
    await setUp();
    const a = await hospital('hospital-a');
    const rotated = await rotate(a.id, ADMIN_TOKEN);
    expect(rotated.status).toBe(200);

    // The node still has the old token: GET /health passes, POST /train is refused at once.
    const failed = await runOnce();
    expect(failed.status).toBe('failed');
    expect(a.trains).toHaveLength(0);
    const update = failed.rounds[0].updates[0];
    expect(update.status).toBe('failed');
    expect(update.failureReason).toMatch(
      /^dispatch failed: POST http:\/\/127\.0\.0\.1:\d+\/train answered 401: .*signature does not match/,
    );
    expect(failed.failureReason).toContain('signature does not match');

    // "Restarted" with HOSPITAL_TOKEN = the new token.
    a.token = rotated.body.token;
    const done = await runOnce();
    expect(done.status, done.failureReason ?? '').toBe('completed');
    await a.settled();
    expect(a.uploads.map((u) => u.status)).toEqual([202]);
  });

  it('documents the route in the OpenAPI document', async () => {
    await setUp();
    const docs = await json<{
      paths: Record<string, Record<string, Record<string, unknown>>>;
    }>(`${agg.url}/docs/json`);
    const rotation = docs.body.paths['/hospitals/{id}/token'].post;
    expect(rotation).toMatchObject({ tags: ['hospitals'], security: [{ bearerAuth: [] }] });
    expect(rotation.description).toContain('HOSPITAL_TOKEN');
    expect(rotation.description).toContain('restarted');
    expect(Object.keys(rotation.responses as object)).toEqual(['200', '401', '403', '404']);
    const byId = docs.body.paths['/hospitals/{id}'];
    expect(Object.keys(byId)).toEqual(expect.arrayContaining(['get', 'patch']));
    expect(byId.patch).toMatchObject({ tags: ['hospitals'], security: [{ bearerAuth: [] }] });
    expect(Object.keys(byId.patch.responses as object)).toEqual(
      expect.arrayContaining(['200', '400', '401', '403', '404']),
    );
  });
});

describe('disabling and enabling a hospital', () => {
  it('a disabled hospital is refused (403) and not selected; enabled again, it takes part', async () => {
    await setUp();
    const a = await hospital('hospital-a');
    const b = await hospital('hospital-b');

    const disabled = await patch(a.id, { status: 'disabled' });
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ id: a.id, name: 'hospital-a', status: 'disabled' });
    expect(JSON.stringify(disabled.body)).not.toContain('token"');

    for (const res of [await download('no-such-model', a.token), await upload(a.token)]) {
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('hospital-disabled');
    }

    // A new run selects only hospital-b.
    const first = await runOnce();
    expect(first.status, first.failureReason ?? '').toBe('completed');
    expect(first.rounds[0].selectedHospitalIds).toEqual([b.id]);
    expect(first.rounds[0].updates.map((u) => u.hospitalName)).toEqual(['hospital-b']);
    expect(a.trains).toHaveLength(0);
    const modelId = first.finalModelId as string;
    expect((await download(modelId, a.token)).status).toBe(403);
    expect((await download(modelId, b.token)).status).toBe(200);

    // Enabled again, with the same token.
    const enabled = await patch(a.id, { status: 'active' });
    expect(enabled.status).toBe(200);
    expect(enabled.body.status).toBe('active');
    expect((await download(modelId, a.token)).status).toBe(200);
    const second = await runOnce();
    expect(second.status, second.failureReason ?? '').toBe('completed');
    expect([...second.rounds[0].selectedHospitalIds].sort()).toEqual([a.id, b.id].sort());
    await a.settled();
    expect(a.trains).toHaveLength(1);
    expect(a.uploads.map((u) => u.status)).toEqual([202]);

    const events = await db.prisma.auditEvent.findMany({
      where: { subjectId: a.id, action: { in: ['hospital.disabled', 'hospital.enabled'] } },
      orderBy: { at: 'asc' },
    });
    expect(events.map((e) => [e.actor, e.action, e.details])).toEqual([
      ['admin', 'hospital.disabled', { name: 'hospital-a', from: 'active', to: 'disabled' }],
      ['admin', 'hospital.enabled', { name: 'hospital-a', from: 'disabled', to: 'active' }],
    ]);
  });

  it('changes the base URL (audited); setting the current values changes nothing', async () => {
    await setUp();
    const a = await hospital('hospital-a');
    const moved = await patch(a.id, { baseUrl: 'http://127.0.0.1:1/node/' });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ baseUrl: 'http://127.0.0.1:1/node', status: 'active' });
    const same = await patch(a.id, { baseUrl: 'http://127.0.0.1:1/node', status: 'active' });
    expect(same.status).toBe(200);
    const events = await db.prisma.auditEvent.findMany({
      where: { subjectId: a.id, action: { startsWith: 'hospital.' } },
      orderBy: { at: 'asc' },
    });
    expect(events.map((e) => [e.actor, e.action, e.details])).toEqual([
      ['admin', 'hospital.registered', { name: 'hospital-a', baseUrl: a.url }],
      [
        'admin',
        'hospital.base-url-changed',
        { name: 'hospital-a', from: a.url, to: 'http://127.0.0.1:1/node' },
      ],
    ]);
    const shown = await json<HospitalBody>(`${agg.url}/hospitals/${a.id}`, { token: ADMIN_TOKEN });
    expect(shown.body.baseUrl).toBe('http://127.0.0.1:1/node');
  });

  it('validates PATCH /hospitals/:id and is admin-only', async () => {
    await setUp();
    const a = await hospital('hospital-a');
    for (const [body, field] of [
      [{}, 'body'],
      [{ status: 'paused' }, 'status'],
      [{ status: null }, 'status'],
      [{ baseUrl: 'ftp://x' }, 'baseUrl'],
      [{ name: 'other' }, 'name'],
      [{ status: 'disabled', token: 'x' }, 'token'],
    ] as const) {
      const res = await patch(a.id, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.message).toContain(field);
    }
    expect((await patch(a.id, { status: 'disabled' }, a.token)).status).toBe(403);
    expect((await patch(a.id, { status: 'disabled' }, null)).status).toBe(401);
    const unknown = await patch('no-such-hospital', { status: 'disabled' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('hospital-not-found');
    expect((await json(`${agg.url}/hospitals/${a.id}`, { token: a.token })).status).toBe(403);
    expect((await json(`${agg.url}/hospitals/${a.id}`)).status).toBe(401);
    expect(
      (await json(`${agg.url}/hospitals/no-such-hospital`, { token: ADMIN_TOKEN })).status,
    ).toBe(404);
    // Nothing was changed by the refused requests.
    const row = await db.prisma.hospital.findUniqueOrThrow({ where: { id: a.id } });
    expect(row.status).toBe('active');
    expect(await db.prisma.auditEvent.count({ where: { subjectId: a.id } })).toBe(1);
  });
});
