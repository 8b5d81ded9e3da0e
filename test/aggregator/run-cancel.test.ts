// POST /rounds/{id}/cancel against fake hospital nodes, on both database engines: the round
// loop stops mid-round, nothing is made from the cancelled round, and the run stays cancelled.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseKind } from '../../shared/db/index.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import type { FakeBehaviour, FakeHospital } from './fake-hospital.ts';
import { AggregatorHarness, type RegisteredFake } from './harness.ts';
import { ADMIN_TOKEN, json, waitForRun, type RunBody, type RunDetailBody } from './helpers.ts';

interface CancelledRunBody extends RunDetailBody {
  cancellation: { at: string; by: string; reason: string | null } | null;
  finishedAt: string | null;
}

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  await useTestBackend();
});

describe.each(['pglite', 'postgres'] as const)('run cancel on %s', (kind: DatabaseKind) => {
  const h = new AggregatorHarness();

  afterEach(() => h.close());

  /** Fake hospitals, registered under their names; each holds its uploads of `heldRound`. */
  async function hospitals(
    specs: Record<string, FakeBehaviour>,
    heldRound: number,
  ): Promise<{ fakes: Record<string, RegisteredFake>; release(): void }> {
    const fakes = await h.addHospitals(specs);
    const releases = Object.values(fakes).map((fake) => fake.hold(heldRound));
    const release = (): void => releases.forEach((r) => r());
    h.onClose(release);
    return { fakes, release };
  }

  async function startRun(body: RunBody): Promise<string> {
    const res = await h.postRun(body);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.id;
  }

  function cancel(runId: string, options: { token?: string; body?: unknown } = {}) {
    return json<CancelledRunBody & { error: { code: string; message: string } }>(
      `${h.agg.url}/rounds/${runId}/cancel`,
      {
        method: 'POST',
        token: 'token' in options ? options.token : ADMIN_TOKEN,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      },
    );
  }

  /** Waits until round `round` is dispatched and every node's job id is recorded. */
  async function untilTraining(runId: string, round: number, fakes: FakeHospital[]) {
    await waitForRun(h.agg.url, runId, (r) => {
      const open = r.rounds[round - 1];
      return open?.status === 'dispatched' && open.updates.every((u) => u.jobId !== null);
    });
    expect(fakes.map((f) => f.trains.length)).toEqual(fakes.map(() => round));
  }

  it('cancels mid-round: the loop stops, no model from the round, late uploads refused', async () => {
    await h.start(kind);
    const { fakes, release } = await hospitals(
      { 'hospital-a': { cancellable: true }, 'hospital-b': {} },
      2,
    );
    const [a, b] = [fakes['hospital-a'], fakes['hospital-b']];
    const runId = await startRun({ rounds: 3, roundTimeoutSeconds: 60 });
    await untilTraining(runId, 2, [a, b]);
    const stream = await openEvents(`${h.agg.url}/rounds/${runId}/events`);

    const res = await cancel(runId, { body: { reason: 'wrong learning rate' } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const run = res.body;
    expect(run).toMatchObject({
      id: runId,
      status: 'cancelled',
      currentRound: 2,
      finalModelId: null,
      failureReason: null,
      cancellation: { by: 'admin', reason: 'wrong learning rate', at: expect.any(String) },
    });
    expect(run.finishedAt).toBe(run.cancellation?.at);
    expect(run.rounds.map((r) => r.status)).toEqual(['completed', 'cancelled']);
    expect(run.rounds[1]).toMatchObject({
      failureReason: 'cancelled: wrong learning rate',
      outputModelId: null,
    });
    expect(run.rounds[1].updates.map((u) => [u.hospitalName, u.status, u.failureReason])).toEqual([
      ['hospital-a', 'failed', 'the run was cancelled'],
      ['hospital-b', 'failed', 'the run was cancelled'],
    ]);

    // The node with the cancel route was asked to stop its job; the other was tried (404).
    expect(a.cancels).toEqual([a.trains[1].jobId]);
    const events = await stream.all;
    expect(events[0].event).toBe('snapshot');
    expect(events.at(-1)).toEqual({
      event: 'run-cancelled',
      data: {
        runId,
        reason: 'wrong learning rate',
        cancelledBy: 'admin',
        cancelledAt: run.cancellation?.at,
        rounds: [2],
        nodes: [
          expect.objectContaining({ hospital: 'hospital-a', stopped: true, detail: null }),
          expect.objectContaining({
            hospital: 'hospital-b',
            stopped: false,
            detail: expect.stringMatching(/\/cancel answered 404/),
          }),
        ],
      },
    });

    // Persisted: who, why, when; audited once.
    const row = await h.db.prisma.trainingRun.findUniqueOrThrow({ where: { id: runId } });
    expect(row).toMatchObject({
      status: 'cancelled',
      cancelledBy: 'admin',
      cancelReason: 'wrong learning rate',
    });
    expect(row.cancelledAt?.toISOString()).toBe(run.cancellation?.at);
    const audited = await h.db.prisma.auditEvent.findMany({ where: { action: 'run.cancelled' } });
    expect(audited).toEqual([
      expect.objectContaining({
        actor: 'admin',
        subjectType: 'run',
        subjectId: runId,
        details: expect.objectContaining({ reason: 'wrong learning rate', rounds: [2] }),
      }),
    ]);

    // Cancelling again: 409, nothing changed.
    const again = await cancel(runId, { body: { reason: 'twice' } });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({
      code: 'run-finished',
      message: expect.stringContaining('already cancelled'),
    });
    const after = await h.db.prisma.trainingRun.findUniqueOrThrow({ where: { id: runId } });
    expect(after).toEqual(row);
    expect(await h.db.prisma.auditEvent.count({ where: { action: 'run.cancelled' } })).toBe(1);

    // The nodes finish: the one that was not stopped gets 409 round-closed; nothing else comes.
    release();
    await a.settled();
    await b.settled();
    expect(a.uploads.map((u) => u.round)).toEqual([1]);
    expect(b.uploads.map((u) => [u.round, u.status])).toEqual([
      [1, 202],
      [2, 409],
    ]);
    expect(b.uploads[1].body).toMatchObject({
      error: { code: 'round-closed', message: 'late update refused: round 2 is cancelled' },
    });
    // The loop is gone: no third round, no further /train, no new version (initial + round 1).
    await sleep(600);
    expect([a.trains.length, b.trains.length]).toEqual([2, 2]);
    const final = await waitForRun(h.agg.url, runId, () => true);
    expect(final.rounds.map((r) => r.status)).toEqual(['completed', 'cancelled']);
    const versions = await h.db.prisma.modelVersion.findMany({ orderBy: { version: 'asc' } });
    expect(versions.map((v) => [v.roundIndex, v.stage])).toEqual([
      [0, 'candidate'],
      [1, 'candidate'],
    ]);
    expect((await json(`${h.agg.url}/models/production`)).status).toBe(404);
  });

  it('cancels while POST /train is in flight: the late job id is recorded and the node stopped', async () => {
    await h.start(kind);
    const { fakes, release } = await hospitals(
      { 'hospital-a': { cancellable: true }, 'hospital-b': { trainStatus: 503 } },
      1,
    );
    const [a, b] = [fakes['hospital-a'], fakes['hospital-b']];
    // Both nodes get the dispatch; their answers (a's job id, b's refusal) wait.
    const [heldA, heldB] = [a.holdTrainAnswer(), b.holdTrainAnswer()];
    h.onClose(() => {
      heldA.release();
      heldB.release();
    });
    const runId = await startRun({ rounds: 2, roundTimeoutSeconds: 60 });
    await Promise.all([heldA.received, heldB.received]);
    expect(a.trains).toHaveLength(1);
    const jobId = a.trains[0].jobId;
    const stream = await openEvents(`${h.agg.url}/rounds/${runId}/events`);

    // The cancel waits for the loop, which waits for the dispatches: not awaited yet.
    const cancelling = cancel(runId, { body: { reason: 'raced a dispatch' } });
    await waitForRun(h.agg.url, runId, (r) => r.status === 'cancelled');
    await sleep(100);
    // The refusal comes after the cancel (it must not fail the update over the cancellation
    // nor end the wait for the other node), then the job id.
    heldB.release();
    await sleep(200);
    heldA.release();
    const res = await cancelling;
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.rounds.map((r) => r.status)).toEqual(['cancelled']);
    expect(
      res.body.rounds[0].updates.map((u) => [u.hospitalName, u.status, u.failureReason, u.jobId]),
    ).toEqual([
      ['hospital-a', 'failed', 'the run was cancelled', jobId],
      ['hospital-b', 'failed', 'the run was cancelled', null],
    ]);

    // The node whose answer came after the cancel was told to stop its job.
    expect(a.cancels).toEqual([jobId]);
    const events = await stream.all;
    expect(events.at(-1)).toEqual({
      event: 'run-cancelled',
      data: expect.objectContaining({
        runId,
        rounds: [1],
        nodes: [
          { hospitalId: a.id, hospital: 'hospital-a', jobId, stopped: true, detail: null },
          {
            hospitalId: b.id,
            hospital: 'hospital-b',
            jobId: null,
            stopped: false,
            detail: 'no job id known (the dispatch failed or got no answer in time)',
          },
        ],
      }),
    });
    expect(JSON.stringify(events)).not.toContain('dispatch failed:');

    // It uploads nothing; no second round.
    release();
    await a.settled();
    expect(a.jobs.get(jobId)).toMatchObject({ status: 'failed' });
    expect(a.uploads).toEqual([]);
    expect(a.trains).toHaveLength(1);
  });

  it('refuses an unknown or finished run, a missing admin token and bad bodies', async () => {
    await h.start(kind);
    const { fakes, release } = await hospitals({ 'hospital-a': {} }, 0);
    release();
    const runId = await startRun({ rounds: 1, promote: false });
    const done = await waitForRun(h.agg.url, runId);
    expect(done.status, done.failureReason ?? '').toBe('completed');

    expect((await cancel(runId, { token: undefined })).status).toBe(401);
    expect((await cancel(runId, { token: 'not-the-admin-token' })).status).toBe(401);
    expect((await cancel(runId, { token: fakes['hospital-a'].token })).status).toBe(403);
    const unknown = await cancel('no-such-run');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('run-not-found');
    const tooLong = await cancel(runId, { body: { reason: 'x'.repeat(501) } });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.message).toContain('reason');
    expect((await cancel(runId, { body: { why: 'typo' } })).status).toBe(400);

    const finished = await cancel(runId);
    expect(finished.status).toBe(409);
    expect(finished.body.error).toMatchObject({
      code: 'run-finished',
      message: `run ${runId} is already completed: only a pending or running run can be cancelled`,
    });
    const run = await waitForRun(h.agg.url, runId, () => true);
    expect(run).toMatchObject({ status: 'completed', cancellation: null });
    expect(await h.db.prisma.auditEvent.count({ where: { action: 'run.cancelled' } })).toBe(0);

    const docs = await json<{ paths: Record<string, Record<string, unknown>> }>(
      `${h.agg.url}/docs/json`,
    );
    expect(docs.body.paths['/rounds/{id}/cancel']?.post).toMatchObject({
      security: [{ bearerAuth: [] }],
      responses: expect.objectContaining({ 200: expect.anything(), 409: expect.anything() }),
    });
  });

  it('does not resume a cancelled run after a restart; a new run starts and completes', async () => {
    await h.start(kind);
    const { fakes, release } = await hospitals({ 'hospital-a': {} }, 1);
    const a = fakes['hospital-a'];
    const runId = await startRun({ roundTimeoutSeconds: 60 });
    await untilTraining(runId, 1, [a]);
    const res = await cancel(runId);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.cancellation).toMatchObject({ by: 'admin', reason: null });

    // A new aggregator on the same database and state directory.
    await h.restart();
    release();
    await a.settled();
    await sleep(600);
    const kept = await waitForRun(h.agg.url, runId, () => true);
    expect(kept.status).toBe('cancelled');
    expect(kept.rounds.map((r) => r.status)).toEqual(['cancelled']);
    expect(a.trains).toHaveLength(1);
    expect(a.uploads.map((u) => u.status)).toEqual([409]);

    const next = await startRun({ rounds: 1 });
    const run = await waitForRun(h.agg.url, next);
    expect(run.status, run.failureReason ?? '').toBe('completed');
    expect((await json<{ id: string }>(`${h.agg.url}/models/production`)).body.id).toBe(
      run.finalModelId,
    );
  });
});

/**
 * Opens a run's event stream and resolves once its snapshot has come (the subscription is
 * then in place), with `all`: every event until the stream ends.
 */
async function openEvents(url: string): Promise<{ all: Promise<SseEvent[]> }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  expect(res.status).toBe(200);
  if (!res.body) throw new Error('no body');
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const read = async (): Promise<boolean> => {
    const { value, done } = await reader.read();
    if (!done) text += decoder.decode(value, { stream: true });
    return !done;
  };
  while (!text.includes('event: snapshot') && (await read()));
  const all = (async () => {
    while (await read());
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
  })();
  // Wrapped: an async function returning a bare promise would wait for it.
  return { all };
}
