// Hospital administration: token rotation (POST /hospitals/:id/token) with and without a grace
// window, disabling, enabling and moving a hospital (PATCH /hospitals/:id), GET
// /hospitals/:id. The grace window on PGlite and PostgreSQL, the rest on PGlite.
import { describe, expect, it } from 'vitest';
import { hashToken } from '../../shared/service/auth.ts';
import { useTokenTestAggregator, type RegisteredFake } from './harness.ts';
import {
  ADMIN_TOKEN,
  json,
  waitForRun,
  type ErrorBody,
  type TokenRotatedBody as RotatedBody,
} from './helpers.ts';

interface HospitalBody {
  id: string;
  name: string;
  baseUrl: string;
  status: string;
  tokenRotatedAt: string;
  previousTokenExpiresAt: string | null;
  createdAt: string;
}

const { h, clock, setUp } = useTokenTestAggregator();

/** A fake node registered under its name, with its token. */
async function hospital(name: string): Promise<RegisteredFake> {
  return (await h.addHospitals({ [name]: {} }))[name];
}

const rotate = (id: string, token?: string, body?: unknown) =>
  json<RotatedBody & ErrorBody>(`${h.agg.url}/hospitals/${id}/token`, {
    method: 'POST',
    token,
    body: body === undefined ? undefined : JSON.stringify(body),
  });

/** PATCH /hospitals/:id, as the admin unless told otherwise (null: no token). */
const patch = (id: string, body: unknown, token: string | null = ADMIN_TOKEN) =>
  json<HospitalBody & ErrorBody>(`${h.agg.url}/hospitals/${id}`, {
    method: 'PATCH',
    token: token ?? undefined,
    body: JSON.stringify(body),
  });

/** GET /models/:id/weights (an unknown model answers 404 once the token is accepted). */
async function download(
  modelId: string,
  token: string,
): Promise<{ status: number; body: ErrorBody }> {
  const res = await fetch(`${h.agg.url}/models/${modelId}/weights`, {
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
  json<ErrorBody>(`${h.agg.url}/rounds/no-such-run/updates`, { method: 'POST', token });

async function runOnce(): Promise<Awaited<ReturnType<typeof waitForRun>>> {
  const res = await h.postRun({ rounds: 1 });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return waitForRun(h.agg.url, res.body.id);
}

describe('hospital token rotation', () => {
  it('issues a new token once, stores its hash, and the old token stops working', async () => {
    const lines: string[] = [];
    await setUp(lines);
    const a = await hospital('hospital-a');
    const oldToken = a.token;
    const before = await h.db.prisma.hospital.findUniqueOrThrow({ where: { id: a.id } });
    expect((await download('no-such-model', oldToken)).status).toBe(404);

    const rotated = await rotate(a.id, ADMIN_TOKEN);
    expect(rotated.status).toBe(200);
    expect(rotated.body).toEqual({
      id: a.id,
      name: 'hospital-a',
      token: expect.stringMatching(/^[\w-]{32}$/),
      tokenRotatedAt: expect.any(String),
      previousTokenExpiresAt: null,
    });
    const newToken = rotated.body.token;
    expect(newToken).not.toBe(oldToken);
    expect(Date.parse(rotated.body.tokenRotatedAt)).toBeGreaterThan(
      before.tokenRotatedAt.getTime() - 1,
    );

    // Only the hash is stored.
    const after = await h.db.prisma.hospital.findUniqueOrThrow({ where: { id: a.id } });
    expect(after.tokenHash).toBe(hashToken(newToken));
    expect(after.tokenHash).not.toBe(before.tokenHash);
    expect(after.tokenRotatedAt.toISOString()).toBe(rotated.body.tokenRotatedAt);
    const rows = JSON.stringify(await h.db.prisma.hospital.findMany());
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
    const shown = await json<HospitalBody>(`${h.agg.url}/hospitals/${a.id}`, {
      token: ADMIN_TOKEN,
    });
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({
      id: a.id,
      status: 'active',
      tokenRotatedAt: rotated.body.tokenRotatedAt,
    });
    expect(JSON.stringify(shown.body)).not.toContain(after.tokenHash);

    // Audited, without the token or its hash.
    const events = await h.db.prisma.auditEvent.findMany({
      where: { action: 'hospital.token-rotated' },
    });
    expect(events).toEqual([
      expect.objectContaining({ actor: 'admin', subjectType: 'hospital', subjectId: a.id }),
    ]);
    const audit = JSON.stringify(await h.db.prisma.auditEvent.findMany());
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
    expect(
      await h.db.prisma.auditEvent.count({ where: { action: 'hospital.token-rotated' } }),
    ).toBe(0);
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

  it('during a grace a node still on the previous token trains (the dispatch is signed again with its hash); after it, refused', async () => {
    const lines: string[] = [];
    await setUp(lines);
    const a = await hospital('hospital-a');
    const rotated = await rotate(a.id, ADMIN_TOKEN, { graceSeconds: 600 });
    expect(rotated.status).toBe(200);

    // The node keeps its old HOSPITAL_TOKEN: it is dispatched, downloads, uploads, evaluates.
    const during = await runOnce();
    expect(during.status, during.failureReason ?? '').toBe('completed');
    await a.settled();
    expect(a.trains).toHaveLength(1);
    expect(a.uploads.map((u) => u.status)).toEqual([202]);
    expect(lines.some((l) => l.includes('authenticated with its previous token'))).toBe(true);

    // Past the grace: refused as without one.
    clock.skewMs = 601_000;
    const after = await runOnce();
    expect(after.status).toBe('failed');
    expect(after.rounds[0].updates[0].failureReason).toMatch(
      /answered 401: .*signature does not match/,
    );

    // Restarted with the new token, it trains again.
    a.token = rotated.body.token;
    const restarted = await runOnce();
    expect(restarted.status, restarted.failureReason ?? '').toBe('completed');
  });

  it('documents the route in the OpenAPI document', async () => {
    await setUp();
    const docs = await json<{
      paths: Record<string, Record<string, Record<string, unknown>>>;
    }>(`${h.agg.url}/docs/json`);
    const rotation = docs.body.paths['/hospitals/{id}/token'].post;
    expect(rotation).toMatchObject({ tags: ['hospitals'], security: [{ bearerAuth: [] }] });
    expect(rotation.description).toContain('HOSPITAL_TOKEN');
    expect(rotation.description).toContain('restarted');
    expect(Object.keys(rotation.responses as object)).toEqual(['200', '400', '401', '403', '404']);
    expect(rotation.description).toContain('graceSeconds');
    expect(rotation.requestBody).toMatchObject({
      content: {
        'application/json': {
          schema: { properties: { graceSeconds: { minimum: 0, maximum: 604800 } } },
        },
      },
    });
    const byId = docs.body.paths['/hospitals/{id}'];
    expect(Object.keys(byId)).toEqual(expect.arrayContaining(['get', 'patch']));
    expect(byId.patch).toMatchObject({ tags: ['hospitals'], security: [{ bearerAuth: [] }] });
    expect(Object.keys(byId.patch.responses as object)).toEqual(
      expect.arrayContaining(['200', '400', '401', '403', '404']),
    );
  });
});

describe.each(['pglite', 'postgres'] as const)('hospital token grace window on %s', (kind) => {
  const HOUR = 3600;

  it('accepts the previous token until now + graceSeconds (logged as such), then answers 401', async () => {
    const lines: string[] = [];
    await setUp(lines, kind);
    const a = await hospital('hospital-a');
    const oldToken = a.token;

    const rotated = await rotate(a.id, ADMIN_TOKEN, { graceSeconds: HOUR });
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    const newToken = rotated.body.token;
    const rotatedAt = Date.parse(rotated.body.tokenRotatedAt);
    expect(rotated.body.previousTokenExpiresAt).toBe(
      new Date(rotatedAt + HOUR * 1000).toISOString(),
    );
    const expiresAt = rotated.body.previousTokenExpiresAt;

    // Both tokens work: downloads (404 for an unknown model once accepted) and uploads (past
    // the token check).
    for (const token of [oldToken, newToken]) {
      expect((await download('no-such-model', token)).status).toBe(404);
      expect((await upload(token)).status).not.toBe(401);
    }
    // Only hashes are stored: the current one and the one it replaced.
    const row = await h.db.prisma.hospital.findUniqueOrThrow({ where: { id: a.id } });
    expect(row.tokenHash).toBe(hashToken(newToken));
    expect(row.previousTokenHash).toBe(hashToken(oldToken));
    expect(row.previousTokenExpiresAt?.toISOString()).toBe(expiresAt);

    // GET /hospitals/:id and GET /hospitals show the expiry, never a token or hash.
    const shown = await json<HospitalBody>(`${h.agg.url}/hospitals/${a.id}`, {
      token: ADMIN_TOKEN,
    });
    expect(shown.body).toMatchObject({ id: a.id, previousTokenExpiresAt: expiresAt });
    const list = await json<{ hospitals: HospitalBody[] }>(`${h.agg.url}/hospitals`, {
      token: ADMIN_TOKEN,
    });
    expect(list.body.hospitals[0].previousTokenExpiresAt).toBe(expiresAt);

    // Audited with the grace, without any token or hash.
    const event = await h.db.prisma.auditEvent.findFirstOrThrow({
      where: { action: 'hospital.token-rotated', subjectId: a.id },
    });
    expect(event.details).toEqual({
      name: 'hospital-a',
      tokenRotatedAt: rotated.body.tokenRotatedAt,
      graceSeconds: HOUR,
      previousTokenExpiresAt: expiresAt,
    });

    // Each request with the previous token is logged at info, with the hospital's id.
    const previousUse = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => String(entry.msg).includes('authenticated with its previous token'));
    expect(previousUse).toHaveLength(2);
    for (const entry of previousUse) {
      expect(entry).toMatchObject({
        level: 30,
        hospitalId: a.id,
        hospital: 'hospital-a',
        previousTokenExpiresAt: expiresAt,
      });
    }

    // Just before the expiry it still works; at it, 401 (the new token goes on).
    clock.skewMs = Date.parse(expiresAt as string) - Date.now() - 5_000;
    expect((await download('no-such-model', oldToken)).status).toBe(404);
    clock.skewMs = Date.parse(expiresAt as string) - Date.now();
    const expired = await download('no-such-model', oldToken);
    expect(expired.status).toBe(401);
    expect(expired.body.error.code).toBe('unauthorized');
    expect((await upload(oldToken)).status).toBe(401);
    expect((await download('no-such-model', newToken)).status).toBe(404);
    const after = await json<HospitalBody>(`${h.agg.url}/hospitals/${a.id}`, {
      token: ADMIN_TOKEN,
    });
    expect(after.body.previousTokenExpiresAt).toBeNull();

    // No token or hash in any answer, audit event or log line.
    const answers = JSON.stringify([rotated.body.previousTokenExpiresAt, shown, list, after]);
    const audit = JSON.stringify(await h.db.prisma.auditEvent.findMany());
    for (const secret of [oldToken, row.tokenHash, row.previousTokenHash as string]) {
      expect(answers).not.toContain(secret);
    }
    for (const secret of [oldToken, newToken, row.tokenHash, row.previousTokenHash as string]) {
      expect(audit).not.toContain(secret);
      for (const line of lines) expect(line).not.toContain(secret);
    }
  });

  it('rotating again during the grace keeps only the token just replaced; graceSeconds 0 drops it', async () => {
    await setUp(undefined, kind);
    const a = await hospital('hospital-a');
    const t0 = a.token;
    const first = await rotate(a.id, ADMIN_TOKEN, { graceSeconds: 600 });
    const t1 = first.body.token;
    clock.skewMs = 60_000;
    const second = await rotate(a.id, ADMIN_TOKEN, { graceSeconds: 600 });
    expect(second.status).toBe(200);
    const t2 = second.body.token;
    expect(Date.parse(second.body.previousTokenExpiresAt as string)).toBe(
      Date.parse(second.body.tokenRotatedAt) + 600_000,
    );
    expect((await download('no-such-model', t0)).status).toBe(401);
    expect((await download('no-such-model', t1)).status).toBe(404);
    expect((await download('no-such-model', t2)).status).toBe(404);
    const row = await h.db.prisma.hospital.findUniqueOrThrow({ where: { id: a.id } });
    expect(row.previousTokenHash).toBe(hashToken(t1));

    // Without a grace the one replaced is refused at once, and the older one stays refused.
    const third = await rotate(a.id, ADMIN_TOKEN);
    expect(third.status).toBe(200);
    expect(third.body.previousTokenExpiresAt).toBeNull();
    for (const token of [t0, t1, t2]) {
      expect((await download('no-such-model', token)).status).toBe(401);
    }
    expect((await download('no-such-model', third.body.token)).status).toBe(404);
    const cleared = await h.db.prisma.hospital.findUniqueOrThrow({ where: { id: a.id } });
    expect([cleared.previousTokenHash, cleared.previousTokenExpiresAt]).toEqual([null, null]);
    const grace = (
      await h.db.prisma.auditEvent.findMany({
        where: { action: 'hospital.token-rotated', subjectId: a.id },
        orderBy: { at: 'asc' },
      })
    ).map((e) => (e.details as { graceSeconds: number }).graceSeconds);
    expect(grace).toEqual([600, 600, 0]);
  });

  it('disabling refuses both tokens and drops the previous one; a disabled hospital keeps none; enabled, only the newest works', async () => {
    await setUp(undefined, kind);
    const a = await hospital('hospital-a');
    const oldToken = a.token;
    const rotated = await rotate(a.id, ADMIN_TOKEN, { graceSeconds: 600 });
    const newToken = rotated.body.token;

    const disabled = await patch(a.id, { status: 'disabled' });
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ status: 'disabled', previousTokenExpiresAt: null });
    const refusedNew = await download('no-such-model', newToken);
    expect(refusedNew.status).toBe(403);
    expect(refusedNew.body.error.code).toBe('hospital-disabled');
    expect((await upload(newToken)).status).toBe(403);
    expect((await download('no-such-model', oldToken)).status).toBe(401);
    expect((await upload(oldToken)).status).toBe(401);
    const event = await h.db.prisma.auditEvent.findFirstOrThrow({
      where: { action: 'hospital.disabled', subjectId: a.id },
    });
    expect(event.details).toEqual({
      name: 'hospital-a',
      from: 'active',
      to: 'disabled',
      previousTokenRevoked: rotated.body.previousTokenExpiresAt,
    });

    // A disabled hospital rotated with a grace keeps no previous token either.
    const whileDisabled = await rotate(a.id, ADMIN_TOKEN, { graceSeconds: 600 });
    expect(whileDisabled.status).toBe(200);
    expect(whileDisabled.body.previousTokenExpiresAt).toBeNull();
    const newest = whileDisabled.body.token;

    const enabled = await patch(a.id, { status: 'active' });
    expect(enabled.body.previousTokenExpiresAt).toBeNull();
    expect((await download('no-such-model', newest)).status).toBe(404);
    for (const token of [oldToken, newToken]) {
      expect((await download('no-such-model', token)).status).toBe(401);
    }
  });

  it('refuses a graceSeconds out of 0..604800 or not an integer (400), changing nothing', async () => {
    await setUp(undefined, kind);
    const a = await hospital('hospital-a');
    for (const body of [
      { graceSeconds: -1 },
      { graceSeconds: 604_801 },
      { graceSeconds: 1.5 },
      { graceSeconds: 'an hour' },
      { grace: 60 },
    ]) {
      const res = await rotate(a.id, ADMIN_TOKEN, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.message).toContain(Object.keys(body)[0]);
      expect(JSON.stringify(res.body)).not.toContain('"token"');
    }
    expect((await download('no-such-model', a.token)).status).toBe(404);
    expect(
      await h.db.prisma.auditEvent.count({ where: { action: 'hospital.token-rotated' } }),
    ).toBe(0);
    // The largest grace is taken; an empty body is no grace.
    const longest = await rotate(a.id, ADMIN_TOKEN, { graceSeconds: 604_800 });
    expect(longest.status).toBe(200);
    expect(Date.parse(longest.body.previousTokenExpiresAt as string)).toBe(
      Date.parse(longest.body.tokenRotatedAt) + 604_800_000,
    );
    const empty = await rotate(a.id, ADMIN_TOKEN, {});
    expect(empty.status).toBe(200);
    expect(empty.body.previousTokenExpiresAt).toBeNull();
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

    const events = await h.db.prisma.auditEvent.findMany({
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
    const events = await h.db.prisma.auditEvent.findMany({
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
    const shown = await json<HospitalBody>(`${h.agg.url}/hospitals/${a.id}`, {
      token: ADMIN_TOKEN,
    });
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
    expect((await json(`${h.agg.url}/hospitals/${a.id}`, { token: a.token })).status).toBe(403);
    expect((await json(`${h.agg.url}/hospitals/${a.id}`)).status).toBe(401);
    expect(
      (await json(`${h.agg.url}/hospitals/no-such-hospital`, { token: ADMIN_TOKEN })).status,
    ).toBe(404);
    // Nothing was changed by the refused requests.
    const row = await h.db.prisma.hospital.findUniqueOrThrow({ where: { id: a.id } });
    expect(row.status).toBe('active');
    expect(await h.db.prisma.auditEvent.count({ where: { subjectId: a.id } })).toBe(1);
  });
});
