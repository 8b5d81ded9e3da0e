// Reader tokens (POST /readers): read-only tokens for the inference API. They download model
// weights, uncounted, and get 403 on every other route that needs a token; issued, listed,
// rotated with or without a grace and revoked by the admin like hospitals' tokens. The grace
// window on PGlite and PostgreSQL, the rest on PGlite.
import { describe, expect, it } from 'vitest';
import { AggregatorAdmin } from '../../scripts/aggregator-admin.ts';
import { buildApp as buildInference } from '../../services/inference-api/app.ts';
import { hashToken } from '../../shared/service/auth.ts';
import { useTokenTestAggregator } from './harness.ts';
import {
  ADMIN_TOKEN,
  json,
  waitForRun,
  type ErrorBody,
  type TokenRotatedBody as IssuedBody,
} from './helpers.ts';

interface ReaderBody {
  id: string;
  name: string;
  createdAt: string;
  tokenRotatedAt: string;
  previousTokenExpiresAt: string | null;
  revokedAt: string | null;
}

const { h, clock, setUp } = useTokenTestAggregator();

/** A request as the admin unless told otherwise (null: no token); a body is sent as JSON. */
const call = <T>(
  method: string,
  path: string,
  body?: unknown,
  token: string | null = ADMIN_TOKEN,
) =>
  json<T & ErrorBody>(`${h.agg.url}${path}`, {
    method,
    token: token ?? undefined,
    body: body === undefined ? undefined : JSON.stringify(body),
  });

async function issue(name = 'inference-api'): Promise<IssuedBody> {
  const res = await call<IssuedBody>('POST', '/readers', { name });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

const rotate = (id: string, body?: unknown, token: string | null = ADMIN_TOKEN) =>
  call<IssuedBody>('POST', `/readers/${id}/token`, body, token);

const listReaders = async (): Promise<ReaderBody[]> => {
  const res = await call<{ readers: ReaderBody[] }>('GET', '/readers');
  expect(res.status).toBe(200);
  return res.body.readers;
};

/** GET /models/:id/weights (an unknown model answers 404 once the token is accepted). */
async function download(
  modelId: string,
  token: string,
): Promise<{ status: number; bytes: number; sha256: string | null; body?: ErrorBody }> {
  const res = await fetch(`${h.agg.url}/models/${modelId}/weights`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (res.ok) {
    const bytes = (await res.arrayBuffer()).byteLength;
    return { status: res.status, bytes, sha256: res.headers.get('x-fedxray-sha256') };
  }
  return { status: res.status, bytes: 0, sha256: null, body: (await res.json()) as ErrorBody };
}

describe('reader tokens', () => {
  it('issues a token once and lists readers without any token or hash; admin only', async () => {
    const lines: string[] = [];
    await setUp(lines);
    const issued = await issue();
    expect(issued).toEqual({
      id: expect.any(String),
      name: 'inference-api',
      token: expect.stringMatching(/^[\w-]{32}$/),
    });
    const row = await h.db.prisma.readerToken.findUniqueOrThrow({ where: { id: issued.id } });
    expect(row.tokenHash).toBe(hashToken(issued.token));
    expect(row.revokedAt).toBeNull();

    const readers = await listReaders();
    expect(readers).toEqual([
      {
        id: issued.id,
        name: 'inference-api',
        createdAt: row.createdAt.toISOString(),
        tokenRotatedAt: row.tokenRotatedAt.toISOString(),
        previousTokenExpiresAt: null,
        revokedAt: null,
      },
    ]);
    expect(JSON.stringify(readers)).not.toContain(issued.token);
    expect(JSON.stringify(readers)).not.toContain(row.tokenHash);

    // A name is taken once; bad names and fields are 400.
    const again = await call('POST', '/readers', { name: 'inference-api' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('reader-exists');
    expect((await call('POST', '/readers', { name: '-bad' })).status).toBe(400);
    expect((await call('POST', '/readers', { name: 'x', extra: 1 })).status).toBe(400);

    // Admin only: the reader itself, a hospital, no token, an unknown token.
    const [hospital] = Object.values(await h.addHospitals({ 'hospital-a': {} }));
    for (const [token, status] of [
      [issued.token, 403],
      [hospital.token, 403],
      [null, 401],
      ['not-a-token-at-all', 401],
    ] as const) {
      expect((await call('POST', '/readers', { name: 'other' }, token)).status).toBe(status);
      expect((await call('GET', '/readers', undefined, token)).status).toBe(status);
    }
    expect(await h.db.prisma.readerToken.count()).toBe(1);

    // Audited, without the token or its hash; never logged.
    const events = await h.db.prisma.auditEvent.findMany({ where: { action: 'reader.issued' } });
    expect(events).toEqual([
      expect.objectContaining({
        actor: 'admin',
        subjectType: 'reader',
        subjectId: issued.id,
        details: { name: 'inference-api' },
      }),
    ]);
    const audit = JSON.stringify(await h.db.prisma.auditEvent.findMany());
    for (const secret of [issued.token, row.tokenHash]) {
      expect(audit).not.toContain(secret);
      for (const line of lines) expect(line).not.toContain(secret);
    }
  });

  it('downloads weights of a run in progress without counting them; 403 on every other route with a token', async () => {
    await setUp();
    const fakes = await h.addHospitals({ 'hospital-a': {} });
    const a = fakes['hospital-a'];
    const release = a.hold(1);
    h.onClose(release);
    const reader = await issue();
    const started = await h.postRun({ rounds: 1, maxDownloads: 1 });
    expect(started.status).toBe(202);
    const runId = started.body.id;
    const during = await waitForRun(h.agg.url, runId, (r) => r.rounds[0]?.status === 'dispatched');
    const modelId = during.rounds[0].inputModelId as string;
    const model = await h.db.prisma.modelVersion.findUniqueOrThrow({ where: { id: modelId } });

    // The metadata is public; the weights need the token, and the reader's is enough.
    expect((await call('GET', '/models', undefined, reader.token)).status).toBe(200);
    expect((await call('GET', `/models/${modelId}`, undefined, reader.token)).status).toBe(200);
    const downloadsBefore = await h.db.prisma.weightDownload.count();
    for (let i = 0; i < 2; i++) {
      const got = await download(modelId, reader.token);
      expect(got.status).toBe(200);
      expect(got.sha256).toBe(model.sha256);
      expect(got.bytes).toBe(model.sizeBytes);
    }
    // An unknown model: 404 once the token is accepted (what npm start checks its token with).
    expect((await download('no-such-model', reader.token)).body?.error.code).toBe(
      'model-not-found',
    );
    // Not counted: no WeightDownload (the run's S_max is untouched), an audit event each.
    expect(await h.db.prisma.weightDownload.count()).toBe(downloadsBefore);
    const audited = await h.db.prisma.auditEvent.findMany({
      where: { action: 'model.downloaded', actor: `reader:${reader.id}` },
    });
    expect(audited).toHaveLength(2);
    expect(audited[0]).toMatchObject({
      subjectType: 'model',
      subjectId: modelId,
      details: { counted: false },
    });

    // Every other route with a token answers 403 forbidden to it.
    const refused: [string, string, unknown?][] = [
      ['POST', '/rounds', { rounds: 1 }],
      ['POST', `/rounds/${runId}/cancel`, {}],
      ['POST', `/rounds/${runId}/updates`],
      ['POST', '/hospitals', { name: 'hospital-x', baseUrl: 'http://127.0.0.1:1' }],
      ['GET', '/hospitals'],
      ['GET', `/hospitals/${a.id}`],
      ['PATCH', `/hospitals/${a.id}`, { status: 'disabled' }],
      ['POST', `/hospitals/${a.id}/token`, {}],
      ['POST', `/models/${modelId}/promote`],
      ['POST', '/readers', { name: 'other' }],
      ['GET', '/readers'],
      ['POST', `/readers/${reader.id}/token`, {}],
      ['DELETE', `/readers/${reader.id}`],
    ];
    for (const [method, path, body] of refused) {
      const res = await call(method, path, body, reader.token);
      expect([method, path, res.status, res.body.error?.code]).toEqual([
        method,
        path,
        403,
        'forbidden',
      ]);
    }

    // Nothing changed: the run goes on and completes, the reader is as it was.
    release();
    const run = await waitForRun(h.agg.url, runId);
    expect(run.status, run.failureReason ?? '').toBe('completed');
    expect(await h.db.prisma.trainingRun.count()).toBe(1);
    expect(await h.db.prisma.hospital.count()).toBe(1);
    expect((await listReaders()).map((r) => r.tokenRotatedAt)).toEqual([
      (
        await h.db.prisma.readerToken.findUniqueOrThrow({ where: { id: reader.id } })
      ).tokenRotatedAt.toISOString(),
    ]);
  });

  it("is all the inference API needs: it loads the production model with the reader's token", async () => {
    await setUp();
    await h.addHospitals({ 'hospital-a': {} });
    const run = await h.runToEnd({ rounds: 1, promote: false });
    expect(run.status, run.failureReason ?? '').toBe('completed');
    const finalModelId = run.finalModelId as string;
    expect((await call('POST', `/models/${finalModelId}/promote`)).status).toBe(200);
    const reader = await issue();

    const inference = await buildInference(
      {
        port: 0,
        host: '127.0.0.1',
        aggregatorUrl: h.agg.url,
        aggregatorToken: reader.token,
        modelPollSeconds: 0,
        maxUploadBytes: 10 * 1024 * 1024,
      },
      { logger: false },
    );
    h.onClose(() => inference.close());
    // Loaded at start (a reload finds it in force).
    await inference.ready();
    expect(await inference.reload()).toEqual({ status: 'unchanged', modelId: finalModelId });
    const downloads = await h.db.prisma.auditEvent.findMany({
      where: { action: 'model.downloaded', actor: `reader:${reader.id}` },
    });
    expect(downloads.map((e) => e.subjectId)).toEqual([finalModelId]);
  });

  it('rotation without a grace: the old token answers 401 at once; 404 unknown, admin only', async () => {
    await setUp();
    const reader = await issue();
    const before = await h.db.prisma.readerToken.findUniqueOrThrow({ where: { id: reader.id } });
    const rotated = await rotate(reader.id);
    expect(rotated.status).toBe(200);
    expect(rotated.body).toEqual({
      id: reader.id,
      name: 'inference-api',
      token: expect.stringMatching(/^[\w-]{32}$/),
      tokenRotatedAt: expect.any(String),
      previousTokenExpiresAt: null,
    });
    expect(rotated.body.token).not.toBe(reader.token);
    const after = await h.db.prisma.readerToken.findUniqueOrThrow({ where: { id: reader.id } });
    expect(after.tokenHash).toBe(hashToken(rotated.body.token));
    expect(after.tokenRotatedAt.toISOString()).toBe(rotated.body.tokenRotatedAt);
    expect(after.tokenRotatedAt.getTime()).toBeGreaterThanOrEqual(before.tokenRotatedAt.getTime());

    const old = await download('no-such-model', reader.token);
    expect(old.status).toBe(401);
    expect(old.body?.error.code).toBe('unauthorized');
    expect((await download('no-such-model', rotated.body.token)).status).toBe(404);

    expect((await rotate(reader.id, {}, rotated.body.token)).status).toBe(403);
    expect((await rotate(reader.id, {}, null)).status).toBe(401);
    expect((await rotate(reader.id, { graceSeconds: -1 })).status).toBe(400);
    expect((await rotate(reader.id, { graceSeconds: 604_801 })).status).toBe(400);
    const unknown = await rotate('no-such-reader');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('reader-not-found');
    const events = await h.db.prisma.auditEvent.findMany({
      where: { action: 'reader.token-rotated' },
    });
    expect(events).toEqual([
      expect.objectContaining({
        actor: 'admin',
        subjectType: 'reader',
        subjectId: reader.id,
        details: {
          name: 'inference-api',
          tokenRotatedAt: rotated.body.tokenRotatedAt,
          graceSeconds: 0,
          previousTokenExpiresAt: null,
        },
      }),
    ]);
  });

  it('revoking: both tokens answer 401 at once; it stays listed, cannot be rotated, keeps its name', async () => {
    await setUp();
    const reader = await issue();
    const other = await issue('dashboard');
    const rotated = await rotate(reader.id, { graceSeconds: 600 });
    expect(rotated.body.previousTokenExpiresAt).not.toBeNull();
    expect((await download('no-such-model', reader.token)).status).toBe(404);

    expect((await call('DELETE', `/readers/${reader.id}`, undefined, other.token)).status).toBe(
      403,
    );
    const revoked = await call<ReaderBody>('DELETE', `/readers/${reader.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({
      id: reader.id,
      name: 'inference-api',
      previousTokenExpiresAt: null,
      revokedAt: expect.any(String),
    });
    for (const token of [reader.token, rotated.body.token]) {
      const res = await download('no-such-model', token);
      expect(res.status).toBe(401);
      expect(res.body?.error.code).toBe('unauthorized');
    }
    // Other readers are untouched.
    expect((await download('no-such-model', other.token)).status).toBe(404);

    const row = await h.db.prisma.readerToken.findUniqueOrThrow({ where: { id: reader.id } });
    expect([row.previousTokenHash, row.previousTokenExpiresAt]).toEqual([null, null]);
    expect(row.revokedAt?.toISOString()).toBe(revoked.body.revokedAt);
    expect((await listReaders()).map((r) => [r.name, r.revokedAt])).toEqual([
      ['dashboard', null],
      ['inference-api', revoked.body.revokedAt],
    ]);

    // Again: the same answer, audited once. No rotation, no new reader of that name.
    const twice = await call<ReaderBody>('DELETE', `/readers/${reader.id}`);
    expect(twice.body).toEqual(revoked.body);
    expect(await h.db.prisma.auditEvent.count({ where: { action: 'reader.revoked' } })).toBe(1);
    const again = await rotate(reader.id);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('reader-revoked');
    expect((await call('POST', '/readers', { name: 'inference-api' })).status).toBe(409);
    const unknown = await call('DELETE', '/readers/no-such-reader');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('reader-not-found');
  });

  it('documents the routes in the OpenAPI document', async () => {
    await setUp();
    const docs = await json<{
      paths: Record<string, Record<string, Record<string, unknown>>>;
    }>(`${h.agg.url}/docs/json`);
    const paths = docs.body.paths;
    expect(Object.keys(paths['/readers']).sort()).toEqual(['get', 'post']);
    expect(Object.keys(paths['/readers/{id}'])).toEqual(['delete']);
    const rotation = paths['/readers/{id}/token'].post;
    for (const op of [
      paths['/readers'].get,
      paths['/readers'].post,
      paths['/readers/{id}'].delete,
      rotation,
    ]) {
      expect(op).toMatchObject({ tags: ['readers'], security: [{ bearerAuth: [] }] });
    }
    expect(paths['/readers'].post.description).toContain('AGGREGATOR_TOKEN');
    expect(rotation.description).toContain('graceSeconds');
    expect(Object.keys(rotation.responses as object)).toEqual([
      '200',
      '400',
      '401',
      '403',
      '404',
      '409',
    ]);
    expect(paths['/models/{id}/weights'].get.description).toContain('reader');
  });
});

describe("npm start's reader token (scripts/aggregator-admin.ts)", () => {
  it('issues one, keeps it while accepted, rotates it when replaced, issues another when revoked', async () => {
    await setUp();
    const lines: string[] = [];
    const admin = new AggregatorAdmin(h.agg.url, ADMIN_TOKEN, (line) => lines.push(line));
    // A token kept from another database: a reader is issued.
    const first = await admin.readerToken({ id: 'from-another-database', token: 'x'.repeat(32) });
    expect((await listReaders()).map((r) => [r.id, r.name])).toEqual([[first.id, 'inference-api']]);
    expect((await download('no-such-model', first.token)).status).toBe(404);

    // Accepted: used again as it is.
    expect(await admin.readerToken(first)).toEqual(first);
    expect(await h.db.prisma.readerToken.count()).toBe(1);
    expect(await h.db.prisma.auditEvent.count({ where: { action: 'reader.token-rotated' } })).toBe(
      0,
    );

    // Rotated by hand: the same reader rotated again, its new token in force.
    expect((await rotate(first.id)).status).toBe(200);
    const second = await admin.readerToken(first);
    expect(second.id).toBe(first.id);
    expect(second.token).not.toBe(first.token);
    expect((await download('no-such-model', second.token)).status).toBe(404);
    expect(lines).toContain('the reader token of inference-api is not accepted: rotating it');

    // Revoked: a new reader (the name stays with the revoked one).
    expect((await call('DELETE', `/readers/${first.id}`)).status).toBe(200);
    const third = await admin.readerToken(second);
    expect(third.id).not.toBe(first.id);
    expect((await download('no-such-model', third.token)).status).toBe(404);
    expect((await listReaders()).map((r) => [r.name, r.revokedAt === null])).toEqual([
      ['inference-api', false],
      ['inference-api-2', true],
    ]);
  });
});

describe.each(['pglite', 'postgres'] as const)('reader token grace window on %s', (kind) => {
  it('accepts the previous token until now + graceSeconds (logged), then answers 401', async () => {
    const lines: string[] = [];
    await setUp(lines, kind);
    const reader = await issue();
    const rotated = await rotate(reader.id, { graceSeconds: 3600 });
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    const expiresAt = rotated.body.previousTokenExpiresAt as string;
    expect(expiresAt).toBe(
      new Date(Date.parse(rotated.body.tokenRotatedAt) + 3_600_000).toISOString(),
    );
    for (const token of [reader.token, rotated.body.token]) {
      expect((await download('no-such-model', token)).status).toBe(404);
    }
    const row = await h.db.prisma.readerToken.findUniqueOrThrow({ where: { id: reader.id } });
    expect(row.tokenHash).toBe(hashToken(rotated.body.token));
    expect(row.previousTokenHash).toBe(hashToken(reader.token));
    expect((await listReaders())[0].previousTokenExpiresAt).toBe(expiresAt);

    // The request with the previous token is logged at info, with the reader, never a token.
    const previousUse = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => String(entry.msg).includes('authenticated with its previous token'));
    expect(previousUse).toEqual([
      expect.objectContaining({
        level: 30,
        readerId: reader.id,
        reader: 'inference-api',
        previousTokenExpiresAt: expiresAt,
      }),
    ]);

    // Just before the expiry it still works; at it, 401 (the new token goes on).
    clock.skewMs = Date.parse(expiresAt) - Date.now() - 5_000;
    expect((await download('no-such-model', reader.token)).status).toBe(404);
    clock.skewMs = Date.parse(expiresAt) - Date.now();
    expect((await download('no-such-model', reader.token)).status).toBe(401);
    expect((await download('no-such-model', rotated.body.token)).status).toBe(404);
    expect((await listReaders())[0].previousTokenExpiresAt).toBeNull();

    const audit = JSON.stringify(await h.db.prisma.auditEvent.findMany());
    for (const secret of [
      reader.token,
      rotated.body.token,
      row.tokenHash,
      row.previousTokenHash as string,
    ]) {
      expect(audit).not.toContain(secret);
      for (const line of lines) expect(line).not.toContain(secret);
    }
  });
});
