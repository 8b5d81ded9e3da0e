// The aggregator's routes and round loop against fake hospital nodes, on both database engines
// (an in-process PGlite and the PostgreSQL server at 127.0.0.1:5432).
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  parseRunSettings,
  resolveRunSettings,
  trainRequest,
} from '../../services/aggregator/lib/run-settings.ts';
import type { DatabaseKind } from '../../shared/db/index.ts';
import { decodeWeights, unpackWeights, type NamedWeights } from '../../shared/weights/index.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import type { FakeHospital } from './fake-hospital.ts';
import { AggregatorHarness } from './harness.ts';
import {
  ADMIN_TOKEN,
  deadUrl,
  json,
  registerHospital,
  TINY_RUN,
  waitForRun,
  type RunBody,
} from './helpers.ts';

interface ModelBody {
  id: string;
  version: number;
  runId: string | null;
  roundIndex: number | null;
  sha256: string;
  stage: string;
  width: number | null;
  inputSize: number;
  architecture: string;
  metadata: Record<string, unknown>;
  metrics: Record<string, unknown> | null;
}

beforeAll(async () => {
  await useTestBackend();
});

describe('trainRequest', () => {
  const model = { id: 'model-1', sha256: 'a'.repeat(64) };

  it('sends maxStepsPerEpoch and proximalMu only when the run has them', () => {
    const whole = trainRequest('run-1', resolveRunSettings({ seed: 1 }), 1, 0, model);
    expect(whole.settings).not.toHaveProperty('maxStepsPerEpoch');
    expect(whole.settings).not.toHaveProperty('proximalMu');
    const zeroMu = trainRequest(
      'run-1',
      resolveRunSettings({ seed: 1, proximalMu: 0 }),
      1,
      0,
      model,
    );
    expect(zeroMu.settings).not.toHaveProperty('proximalMu');
    // Settings stored before the field existed read back without it (whole epochs).
    const stored = JSON.parse(JSON.stringify(resolveRunSettings({ seed: 1 }))) as unknown;
    expect(parseRunSettings(stored)).not.toHaveProperty('maxStepsPerEpoch');
    const capped = resolveRunSettings({
      seed: 1,
      localEpochs: 1,
      maxStepsPerEpoch: 3,
      proximalMu: 0.01,
    });
    const request = trainRequest('run-1', capped, 2, 0, model);
    expect(request.settings).toEqual({
      ...whole.settings,
      seed: expect.any(Number),
      maxStepsPerEpoch: 3,
      proximalMu: 0.01,
    });
    expect(request.schedule).toEqual({ startEpoch: 1, totalEpochs: 2 });
  });
});

describe.each(['pglite', 'postgres'] as const)('aggregator on %s', (kind: DatabaseKind) => {
  /** Everything a test started, closed after it. */
  const h = new AggregatorHarness();

  afterEach(() => h.close());

  async function startRun(body: RunBody): Promise<string> {
    const res = await h.postRun(body);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.id;
  }

  async function modelWeights(id: string): Promise<NamedWeights[]> {
    const res = await fetch(`${h.agg.url}/models/${id}/weights`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(200);
    const { manifest, blob } = unpackWeights(Buffer.from(await res.arrayBuffer()));
    return decodeWeights(manifest, blob);
  }

  it('registers hospitals and tells tokens apart', async () => {
    await h.start(kind);
    const post = (body: unknown, token?: string) =>
      json(`${h.agg.url}/hospitals`, { method: 'POST', token, body: JSON.stringify(body) });
    expect((await post({ name: 'a', baseUrl: 'http://127.0.0.1:1' })).status).toBe(401);
    expect(
      (await post({ name: 'a', baseUrl: 'http://127.0.0.1:1' }, 'not-the-admin-token')).status,
    ).toBe(401);
    const created = await post({ name: 'hospital-a', baseUrl: 'http://127.0.0.1:1/' }, ADMIN_TOKEN);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      name: 'hospital-a',
      baseUrl: 'http://127.0.0.1:1',
      token: expect.stringMatching(/^[\w-]{32}$/),
    });
    const token = created.body.token as string;
    const duplicate = await post({ name: 'hospital-a', baseUrl: 'http://x:2' }, ADMIN_TOKEN);
    expect(duplicate.status).toBe(409);
    expect(duplicate.body).toMatchObject({ error: { code: 'hospital-exists' } });
    const badUrl = await post({ name: 'b', baseUrl: 'ftp://x' }, ADMIN_TOKEN);
    expect(badUrl.status).toBe(400);
    expect(JSON.stringify(badUrl.body)).toMatch(/baseUrl/);

    // A hospital's token is known, but not for admin routes.
    expect((await json(`${h.agg.url}/hospitals`)).status).toBe(401);
    expect((await json(`${h.agg.url}/hospitals`, { token })).status).toBe(403);
    const forbidden = await json(`${h.agg.url}/rounds`, { method: 'POST', token, body: '{}' });
    expect(forbidden.status).toBe(403);
    const list = await json<{ hospitals: Record<string, unknown>[] }>(`${h.agg.url}/hospitals`, {
      token: ADMIN_TOKEN,
    });
    expect(list.status).toBe(200);
    expect(list.body.hospitals).toEqual([
      expect.objectContaining({ name: 'hospital-a', status: 'active', lastSeenAt: null }),
    ]);
    const stored = await h.db.prisma.hospital.findFirstOrThrow();
    expect(JSON.stringify(list.body)).not.toContain(token);
    expect(JSON.stringify(list.body)).not.toContain(stored.tokenHash);
    expect(stored.tokenHash).not.toContain(token);

    // Only hospitals post updates; weights need a token.
    const asAdmin = await json(`${h.agg.url}/rounds/x/updates`, {
      method: 'POST',
      token: ADMIN_TOKEN,
    });
    expect(asAdmin.status).toBe(403);
    expect((await json(`${h.agg.url}/models/x/weights`)).status).toBe(401);
    expect((await json(`${h.agg.url}/models/production`)).body).toMatchObject({
      error: { code: 'no-production-model' },
    });
    const audit = await h.db.prisma.auditEvent.findMany({
      where: { action: 'hospital.registered' },
    });
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit)).not.toContain(token);
    const docs = await json<{ paths: Record<string, unknown> }>(`${h.agg.url}/docs/json`);
    expect(Object.keys(docs.body.paths)).toEqual(
      expect.arrayContaining([
        '/hospitals',
        '/rounds',
        '/rounds/{id}',
        '/rounds/{id}/events',
        '/rounds/{runId}/updates',
        '/models',
        '/models/production',
        '/models/{id}',
        '/models/{id}/weights',
        '/models/{id}/promote',
      ]),
    );
  });

  it('validates POST /rounds, naming the field, and fills the defaults', async () => {
    await h.start(kind);
    const post = (body: unknown) =>
      json<{ error: { message: string } }>(`${h.agg.url}/rounds`, {
        method: 'POST',
        token: ADMIN_TOKEN,
        body: JSON.stringify(body),
      });
    for (const [body, field] of [
      [{ rounds: 0 }, 'rounds'],
      [{ clientFraction: 0 }, 'clientFraction'],
      [{ clientFraction: 1.5 }, 'clientFraction'],
      [{ architecture: 'resnet999' }, 'architecture'],
      [{ inputSize: 16 }, 'inputSize'],
      [{ learningRate: -1 }, 'learningRate'],
      [{ round: 3 }, 'round'],
    ] as const) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.message).toContain(field);
    }
    const { status, body } = await json<{ id: string }>(`${h.agg.url}/rounds`, {
      method: 'POST',
      token: ADMIN_TOKEN,
      body: '{}',
    });
    expect(status).toBe(202);
    const run = await waitForRun(h.agg.url, body.id);
    expect(run.settings).toEqual({
      architecture: 'se-resnet18-gn',
      inputSize: 64,
      width: 64,
      rounds: 2,
      clientFraction: 1,
      localEpochs: 1,
      batchSize: 16,
      learningRate: 0.001,
      augmentPolicy: 'light',
      minHospitals: 1,
      roundTimeoutSeconds: 600,
      maxDownloads: 2,
      earlyStopPatience: 0,
      earlyStopMinDelta: 0.001,
      maxUpdateNormRatio: 10,
      thresholdRule: 'fixed:0.5',
      strategy: { name: 'fedavg' },
      classWeights: 'local',
      promote: true,
      seed: expect.any(Number),
    });
    // No hospital at all: the run fails with the reason, after storing the initial model.
    expect(run.status).toBe('failed');
    expect(run.failureReason).toMatch(
      /round 1 failed: 0 of 0 registered hospital.*minHospitals = 1/,
    );
    const models = await json<{ models: ModelBody[] }>(`${h.agg.url}/models`);
    expect(models.body.models).toEqual([
      expect.objectContaining({ roundIndex: 0, runId: run.id, width: 64, inputSize: 64 }),
    ]);
  });

  it('validates, stores and sends maxStepsPerEpoch (K local steps) and proximalMu', async () => {
    await h.start(kind);
    const refused: [string, unknown[]][] = [
      ['maxStepsPerEpoch', [0, 1.5, -1, 1000001]],
      ['proximalMu', [-0.1, 1000, 'x']],
    ];
    for (const [field, values] of refused)
      for (const value of values) {
        const bad = await json<{ error: { message: string } }>(`${h.agg.url}/rounds`, {
          method: 'POST',
          token: ADMIN_TOKEN,
          body: JSON.stringify({ ...TINY_RUN, [field]: value }),
        });
        expect(bad.status, `${field} ${String(value)}`).toBe(400);
        expect(bad.body.error.message).toContain(field);
      }
    const fakes = await h.addHospitals({ 'hospital-a': {} });
    const run = await waitForRun(
      h.agg.url,
      await startRun({ maxStepsPerEpoch: 2, proximalMu: 0.5 }),
    );
    expect(run.status, run.failureReason ?? '').toBe('completed');
    expect(run.settings).toMatchObject({ localEpochs: 1, maxStepsPerEpoch: 2, proximalMu: 0.5 });
    const listed = await json<{ runs: { id: string; settings: Record<string, unknown> }[] }>(
      `${h.agg.url}/rounds`,
    );
    expect(listed.body.runs.find((r) => r.id === run.id)?.settings.maxStepsPerEpoch).toBe(2);
    const trains = fakes['hospital-a'].trains.map((t) => t.body);
    expect(trains).toHaveLength(2);
    for (const body of trains) {
      expect(body.settings).toMatchObject({
        epochs: 1,
        batchSize: 8,
        maxStepsPerEpoch: 2,
        proximalMu: 0.5,
      });
    }
  });

  it('runs 2 rounds over 3 hospitals and promotes the final model', async () => {
    await h.start(kind);
    const fakes = await h.addHospitals({ 'hospital-a': {}, 'hospital-b': {}, 'hospital-c': {} });
    const runId = await startRun({});
    const busy = await json(`${h.agg.url}/rounds`, {
      method: 'POST',
      token: ADMIN_TOKEN,
      body: '{}',
    });
    expect(busy.status).toBe(409);
    const run = await waitForRun(h.agg.url, runId);
    expect(run.status, run.failureReason ?? '').toBe('completed');
    expect(run.currentRound).toBe(2);
    expect(run.rounds.map((r) => [r.round, r.status, r.updates.map((u) => u.status)])).toEqual([
      [1, 'completed', ['accepted', 'accepted', 'accepted']],
      [2, 'completed', ['accepted', 'accepted', 'accepted']],
    ]);
    expect(run.rounds[0].updates[0]).toMatchObject({
      hospitalName: 'hospital-a',
      numSamples: 10,
      durationMs: 12,
      failureReason: null,
    });
    expect(run.rounds[0].metrics).toMatchObject({
      train: { numSamples: 30, hospitals: 3, loss: 0.5, accuracy: 0.75 },
      validation: {
        n: 30,
        hospitals: 3,
        accuracy: expect.closeTo(0.8, 9),
        auc: expect.closeTo(0.9, 9),
        confusion: { tp: 12 },
      },
      evaluationFailures: [],
    });

    const models = (await json<{ models: ModelBody[] }>(`${h.agg.url}/models`)).body.models;
    expect(models.map((m) => [m.roundIndex, m.stage])).toEqual([
      [2, 'production'],
      [1, 'candidate'],
      [0, 'candidate'],
    ]);
    expect(models.map((m) => m.version)).toEqual([3, 2, 1]);
    expect(new Set(models.map((m) => m.sha256)).size).toBe(3);
    expect(run.rounds[0].inputModelId).toBe(models[2].id);
    expect(run.rounds[1].inputModelId).toBe(models[1].id);
    expect(run.finalModelId).toBe(models[0].id);

    // What the inference-api reads (docs/inference-api.md).
    const production = await json<ModelBody>(`${h.agg.url}/models/production`);
    expect(production.status).toBe(200);
    expect(production.body).toMatchObject({
      id: models[0].id,
      version: 3,
      roundIndex: 2,
      sha256: models[0].sha256,
      architecture: 'se-resnet18-gn',
      inputSize: 32,
      width: 8,
      stage: 'production',
      metadata: {
        preprocessing: { inputSize: 32, normalization: 'per-image', equalize: false },
        threshold: { threshold: 0.5, rule: 'fixed:0.5', description: expect.any(String) },
        width: 8,
      },
      metrics: { train: { numSamples: 30 }, validation: { n: 30 } },
    });
    const weights = await modelWeights(models[0].id);
    expect(weights).toHaveLength(94);

    // What the nodes were asked (docs/protocol.md), signed: the fakes check with the node's hook.
    const trains = fakes['hospital-b'].trains.map((t) => t.body);
    expect(trains).toHaveLength(2);
    expect(trains[0]).toMatchObject({
      runId,
      round: 1,
      model: { id: models[2].id, sha256: models[2].sha256 },
      architecture: 'se-resnet18-gn',
      inputSize: 32,
      width: 8,
      preprocessing: { inputSize: 32, normalization: 'per-image', equalize: false },
      settings: { epochs: 1, batchSize: 8, learningRate: 0.001, seed: expect.any(Number) },
      schedule: { startEpoch: 0, totalEpochs: 2 },
    });
    expect(trains[1]).toMatchObject({
      round: 2,
      model: { id: models[1].id },
      schedule: { startEpoch: 1, totalEpochs: 2 },
    });
    expect(fakes['hospital-c'].evaluations).toHaveLength(2);
    expect(fakes['hospital-c'].uploads.map((u) => u.status)).toEqual([202, 202]);

    // Downloads: one per round and hospital, counted against the run; evaluations are not.
    const downloads = await h.db.prisma.weightDownload.findMany({ where: { runId } });
    expect(downloads).toHaveLength(6);
    const actions = await h.db.prisma.auditEvent.groupBy({ by: ['action'], _count: true });
    const count = Object.fromEntries(actions.map((a) => [a.action, a._count]));
    expect(count).toMatchObject({
      'run.created': 1,
      'update.accepted': 6,
      'round.completed': 2,
      'model.promoted': 1,
      'run.completed': 1,
    });
    expect(count['model.downloaded']).toBe(6 + 6 + 1);

    const runs = await json<{ runs: { id: string; status: string }[] }>(`${h.agg.url}/rounds`);
    expect(runs.body.runs).toEqual([expect.objectContaining({ id: runId, status: 'completed' })]);

    // Promotion by hand: the previous production model is archived.
    const promoted = await json<ModelBody>(`${h.agg.url}/models/${models[1].id}/promote`, {
      method: 'POST',
      token: ADMIN_TOKEN,
    });
    expect(promoted.status).toBe(200);
    expect(promoted.body.stage).toBe('production');
    const after = (await json<{ models: ModelBody[] }>(`${h.agg.url}/models`)).body.models;
    expect(after.map((m) => m.stage)).toEqual(['archived', 'production', 'candidate']);
    const missing = await json(`${h.agg.url}/models/nope/promote`, {
      method: 'POST',
      token: ADMIN_TOKEN,
    });
    expect(missing.status).toBe(404);
  });

  it('averages the updates weighted by sample counts', async () => {
    await h.start(kind);
    const constant =
      (value: number) =>
      (global: NamedWeights[]): NamedWeights[] =>
        global.map((w) => ({ ...w, data: new Float32Array(w.data.length).fill(value) }));
    await h.addHospitals({
      'hospital-a': { makeUpdate: constant(1), numSamples: 3 },
      'hospital-b': { makeUpdate: constant(5), numSamples: 1 },
    });
    const runId = await startRun({ rounds: 1, promote: false });
    const run = await waitForRun(h.agg.url, runId);
    expect(run.status, run.failureReason ?? '').toBe('completed');
    const weights = await modelWeights(run.rounds[0].outputModelId as string);
    // (3 x 1 + 1 x 5) / 4
    for (const w of weights) expect(w.data.every((v) => v === 2)).toBe(true);
    expect(run.rounds[0].metrics).toMatchObject({
      train: { numSamples: 4 },
      hospitals: [
        { hospital: 'hospital-a', numSamples: 3, share: 0.75 },
        { hospital: 'hospital-b', numSamples: 1, share: 0.25 },
      ],
    });
    expect((await json(`${h.agg.url}/models/production`)).status).toBe(404);
  });

  it('ends a run early once the validation loss stops improving (convergence)', async () => {
    await h.start(kind);
    // Fake hospitals report the same validation loss every round: no improvement after round 1.
    await h.addHospitals({ 'hospital-a': {}, 'hospital-b': {} });
    const runId = await startRun({ rounds: 5, maxDownloads: 5, earlyStopPatience: 1 });
    const run = await waitForRun(h.agg.url, runId);
    expect(run.status, run.failureReason ?? '').toBe('completed');
    expect(run.rounds).toHaveLength(2);
    expect(run.currentRound).toBe(2);
    expect((await json<{ id: string }>(`${h.agg.url}/models/production`)).body.id).toBe(
      run.rounds[1].outputModelId,
    );
  });

  it('goes on without a dead hospital or one that refuses the work', async () => {
    await h.start(kind);
    await h.addHospitals({
      'hospital-a': {},
      'hospital-b': {},
      'hospital-c': { trainStatus: 500 },
    });
    await registerHospital(h.agg.url, 'hospital-dead', await deadUrl());
    const runId = await startRun({ rounds: 1 });
    const run = await waitForRun(h.agg.url, runId);
    expect(run.status, run.failureReason ?? '').toBe('completed');
    const [round] = run.rounds;
    // The dead one fails its health check and is not selected; the broken one fails dispatch.
    expect(round.updates.map((u) => [u.hospitalName, u.status])).toEqual([
      ['hospital-a', 'accepted'],
      ['hospital-b', 'accepted'],
      ['hospital-c', 'failed'],
    ]);
    expect(round.updates[2].failureReason).toMatch(
      /^dispatch failed: POST http:\/\/127\.0\.0\.1:\d+\/train answered 500: this node is broken$/,
    );
    expect(round.metrics).toMatchObject({ train: { hospitals: 2 } });
  });

  it('fails the run when too few hospitals are available', async () => {
    await h.start(kind);
    await h.addHospitals({ 'hospital-a': {}, 'hospital-b': {} });
    await registerHospital(h.agg.url, 'hospital-dead', await deadUrl());
    const runId = await startRun({ minHospitals: 3 });
    const run = await waitForRun(h.agg.url, runId);
    expect(run.status).toBe('failed');
    expect(run.failureReason).toMatch(
      /^round 1 failed: 2 of 3 registered hospital\(s\) available, fewer than minHospitals = 3: hospital-dead is unavailable \(GET http:.*\/health failed: ECONNREFUSED\)$/,
    );
    expect(run.rounds).toEqual([
      expect.objectContaining({ round: 1, status: 'failed', failureReason: expect.any(String) }),
    ]);
  });

  it('times out a hospital at the deadline and refuses its late update', async () => {
    await h.start(kind);
    const fakes = await h.addHospitals({
      'hospital-a': {},
      'hospital-slow': { uploadDelayMs: 2_500 },
    });
    const runId = await startRun({ rounds: 1, roundTimeoutSeconds: 1 });
    const run = await waitForRun(h.agg.url, runId);
    expect(run.status, run.failureReason ?? '').toBe('completed');
    const slow = run.rounds[0].updates.find((u) => u.hospitalName === 'hospital-slow');
    expect(slow).toMatchObject({ status: 'timed_out' });
    expect(slow?.failureReason).toMatch(/^no update before the deadline/);
    await fakes['hospital-slow'].settled();
    expect(fakes['hospital-slow'].uploads).toEqual([
      expect.objectContaining({
        status: 409,
        body: { error: expect.objectContaining({ code: 'round-closed' }) },
      }),
    ]);
    const after = await waitForRun(h.agg.url, runId);
    expect(after.rounds[0].updates[1].failureReason).toMatch(/late update refused/);
  });

  it('minHospitals counts accepted updates: a round with too few fails the run', async () => {
    await h.start(kind);
    await h.addHospitals({ 'hospital-a': {}, 'hospital-silent': { silent: true } });
    const runId = await startRun({ minHospitals: 2, roundTimeoutSeconds: 1 });
    const run = await waitForRun(h.agg.url, runId);
    expect(run.status).toBe('failed');
    expect(run.failureReason).toMatch(
      /^round 1 failed: 1 accepted update\(s\), fewer than minHospitals = 2 \[hospital-a: accepted; hospital-silent: timed_out/,
    );
  });

  it('rejects a wrong-shaped update with the reason and goes on', async () => {
    await h.start(kind);
    const fakes = await h.addHospitals({
      'hospital-a': {},
      'hospital-b': {},
      'hospital-bad': {
        makeUpdate: (global) =>
          global.map((w, i) => (i === 0 ? { ...w, shape: [w.data.length], data: w.data } : w)),
      },
    });
    const runId = await startRun({ rounds: 1 });
    const run = await waitForRun(h.agg.url, runId);
    expect(run.status, run.failureReason ?? '').toBe('completed');
    const bad = run.rounds[0].updates.find((u) => u.hospitalName === 'hospital-bad');
    expect(bad?.status).toBe('rejected');
    expect(bad?.failureReason).toMatch(/do not fit model .*has shape \[\d+\], expected \[/);
    expect(fakes['hospital-bad'].uploads[0]).toMatchObject({
      status: 422,
      body: { error: { code: 'incompatible-update' } },
    });
    expect(run.rounds[0].metrics).toMatchObject({ train: { hospitals: 2 } });
    expect(await h.db.prisma.auditEvent.count({ where: { action: 'update.rejected' } })).toBe(1);
  });

  it('rejects a poisoned and an unchanged update by their norms, and goes on', async () => {
    await h.start(kind);
    await h.addHospitals({
      'hospital-a': {},
      'hospital-b': {},
      'hospital-c': {},
      // Well-formed, finite, right shapes: only its size gives it away (1,000x the others).
      'hospital-poisoned': {
        makeUpdate: (global) => global.map((w) => ({ ...w, data: w.data.map((v) => v + 1) })),
      },
      // A free rider sending the global model back.
      'hospital-idle': { makeUpdate: (global) => global },
    });
    const runId = await startRun({ rounds: 1 });
    const run = await waitForRun(h.agg.url, runId);
    expect(run.status, run.failureReason ?? '').toBe('completed');
    const byName = new Map(run.rounds[0].updates.map((u) => [u.hospitalName, u]));
    expect(byName.get('hospital-poisoned')).toMatchObject({ status: 'rejected' });
    expect(byName.get('hospital-poisoned')?.failureReason).toMatch(
      /^rejected as an outlier: update norm \S+ is 1000x the round's median \S+ \(allowed 0\.1x to 10x\)$/,
    );
    expect(byName.get('hospital-idle')?.failureReason).toMatch(/is 0x the round's median/);
    for (const name of ['hospital-a', 'hospital-b', 'hospital-c']) {
      expect(byName.get(name)?.status).toBe('accepted');
    }
    expect(run.rounds[0].metrics).toMatchObject({ train: { hospitals: 3 } });
    // The model is the mean of the three honest updates: global + 0.001.
    const input = await modelWeights(run.rounds[0].inputModelId as string);
    const output = await modelWeights(run.rounds[0].outputModelId as string);
    for (const [i, w] of output.entries()) {
      for (let k = 0; k < w.data.length; k += 97) {
        expect(w.data[k]).toBeCloseTo(input[i].data[k] + 0.001, 5);
      }
    }
    const audited = await h.db.prisma.auditEvent.findMany({ where: { action: 'update.rejected' } });
    expect(audited).toHaveLength(2);
  });

  it('takes every update when the norm check is off (maxUpdateNormRatio 0)', async () => {
    await h.start(kind);
    await h.addHospitals({
      'hospital-a': {},
      'hospital-b': {},
      'hospital-poisoned': {
        makeUpdate: (global) => global.map((w) => ({ ...w, data: w.data.map((v) => v + 1) })),
      },
    });
    const runId = await startRun({ rounds: 1, maxUpdateNormRatio: 0 });
    const run = await waitForRun(h.agg.url, runId);
    expect(run.status, run.failureReason ?? '').toBe('completed');
    expect(run.rounds[0].updates.every((u) => u.status === 'accepted')).toBe(true);
  });

  it('answers a repeated update with its recorded status', async () => {
    await h.start(kind);
    const fakes = await h.addHospitals({ 'hospital-a': { uploadTwice: true } });
    const runId = await startRun({ rounds: 1 });
    const run = await waitForRun(h.agg.url, runId);
    expect(run.status, run.failureReason ?? '').toBe('completed');
    const [first, second] = fakes['hospital-a'].uploads;
    expect(first.status).toBe(202);
    expect(second.status).toBe(200);
    expect(second.body).toEqual({ ...first.body, status: 'accepted' });
    expect(await h.db.prisma.auditEvent.count({ where: { action: 'update.accepted' } })).toBe(1);
  });

  it('enforces S_max: no download beyond it, not selected once at it', async () => {
    await h.start(kind);
    const fakes = await h.addHospitals({ 'hospital-a': {}, 'hospital-b': {}, 'hospital-c': {} });
    const holds = Object.values(fakes).map((f) => f.hold(2));
    h.onClose(() => holds.forEach((release) => release()));
    // C = 0.34: one hospital a round; S_max = 1: each may see one model of the run.
    const runId = await startRun({ clientFraction: 0.34, maxDownloads: 1 });
    const during = await waitForRun(h.agg.url, runId, (r) => r.rounds[1]?.status === 'dispatched');
    const [first, second] = during.rounds.map((r) => r.selectedHospitalIds);
    expect(first).toHaveLength(1);
    expect(second).toHaveLength(1);
    expect(second[0]).not.toBe(first[0]);
    const used = Object.values(fakes).find((f) => f.id === first[0]) as FakeHospital;

    const download = (modelId: string, token: string) =>
      fetch(`${h.agg.url}/models/${modelId}/weights`, {
        headers: { authorization: `Bearer ${token}` },
      });
    const newer = await download(during.rounds[1].inputModelId as string, used.token);
    expect(newer.status).toBe(403);
    expect(await newer.json()).toMatchObject({ error: { code: 'download-limit' } });
    // The model it already has is no new exposure; the admin token is never counted.
    expect((await download(during.rounds[0].inputModelId as string, used.token)).status).toBe(200);
    expect((await download(during.rounds[1].inputModelId as string, ADMIN_TOKEN)).status).toBe(200);
    expect(
      await h.db.prisma.auditEvent.count({ where: { action: 'model.download-refused' } }),
    ).toBe(1);

    holds.forEach((release) => release());
    const run = await waitForRun(h.agg.url, runId);
    expect(run.status, run.failureReason ?? '').toBe('completed');
    const perHospital = await h.db.prisma.weightDownload.groupBy({
      by: ['hospitalId'],
      where: { runId },
      _count: true,
    });
    expect(perHospital.map((d) => d._count).sort()).toEqual([1, 2]);
  });

  it('streams the run as server-sent events', async () => {
    await h.start(kind);
    // Slow health checks: the stream is open before round 1 starts.
    await h.addHospitals({ 'hospital-a': { healthDelayMs: 300 }, 'hospital-b': {} });
    const runId = await startRun({});
    const raw: string[] = [];
    const events = await readEvents(`${h.agg.url}/rounds/${runId}/events`, raw);
    expect(raw[0]).toContain(': keep-alive\n\n');
    const types = events.map((e) => e.event);
    expect(types[0]).toBe('snapshot');
    expect(types.at(-1)).toBe('run-completed');
    expect(types.filter((t) => t === 'round-started')).toHaveLength(2);
    expect(types.filter((t) => t === 'round-completed')).toHaveLength(2);
    expect(types).toContain('hospital-updated');
    expect(events.find((e) => e.event === 'hospital-updated')?.data).toMatchObject({
      runId,
      round: 1,
      hospital: expect.stringMatching(/^hospital-/),
      status: expect.any(String),
    });
    expect(events.at(-1)?.data).toMatchObject({ runId, promoted: true });
    // A finished run: the snapshot, then the end.
    const again = await readEvents(`${h.agg.url}/rounds/${runId}/events`);
    expect(again.map((e) => e.event)).toEqual(['snapshot']);
    expect(again[0].data).toMatchObject({ id: runId, status: 'completed' });
    expect((await fetch(`${h.agg.url}/rounds/nope/events`)).status).toBe(404);
  });

  it('resumes a run after a restart, without duplicating versions', async () => {
    await h.start(kind);
    const fakes = await h.addHospitals({ 'hospital-a': {}, 'hospital-b': {} });
    const holds = Object.values(fakes).map((f) => f.hold(2));
    const runId = await startRun({});
    await waitForRun(h.agg.url, runId, (r) => r.rounds[1]?.status === 'dispatched');
    const dispatched = Object.values(fakes);
    while (!dispatched.every((f) => f.trains.length === 2)) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    // Stop mid-round, then start a new aggregator on the same database and state directory.
    await h.restart();
    holds.forEach((release) => release());

    const run = await waitForRun(h.agg.url, runId);
    expect(run.status, run.failureReason ?? '').toBe('completed');
    expect(run.rounds.map((r) => r.status)).toEqual(['completed', 'completed']);
    const versions = await h.db.prisma.modelVersion.findMany({ orderBy: { version: 'asc' } });
    expect(versions.map((v) => [v.version, v.roundIndex])).toEqual([
      [1, 0],
      [2, 1],
      [3, 2],
    ]);
    const restarted = await h.db.prisma.auditEvent.findMany({
      where: { action: 'round.restarted' },
    });
    expect(restarted).toHaveLength(1);
    expect(restarted[0].details).toMatchObject({ round: 2, attempt: 2 });
    // Round 1 was not redone; round 2 was dispatched twice, with different seeds.
    const trains = fakes['hospital-a'].trains.map((t) => t.body);
    expect(trains.map((t) => t.round)).toEqual([1, 2, 2]);
    expect(trains[1].settings.seed).not.toBe(trains[2].settings.seed);
    // Known race (to fix: the attempt in the train request and the upload): the interrupted
    // attempt's job, released right after the restart, can upload before the new attempt has
    // recorded its job id and take the hospital's place, so the new job's upload is refused.
    // Until then: the round completes on at least one accepted update.
    const accepted = run.rounds[1].updates.filter((u) => u.status === 'accepted');
    expect(accepted.length, JSON.stringify(run.rounds[1].updates)).toBeGreaterThan(0);
  });
});

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

/** Reads a server-sent event stream to its end. */
async function readEvents(url: string, raw: string[] = []): Promise<SseEvent[]> {
  const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const text = await res.text();
  raw.push(text);
  return text
    .split('\n\n')
    .map((block) => block.split('\n').filter((line) => !line.startsWith(':')))
    .filter((lines) => lines.length > 0 && lines[0] !== '')
    .map((lines) => ({
      event: (lines.find((l) => l.startsWith('event: ')) ?? '').slice(7),
      data: JSON.parse(
        (lines.find((l) => l.startsWith('data: ')) ?? 'data: {}').slice(6),
      ) as Record<string, unknown>,
    }));
}
