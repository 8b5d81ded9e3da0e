// POST /rounds/:runId/updates refuses, before reading any of the body, an upload its hospital is
// not expected to send now, and takes one upload per hospital at a time; every way an upload
// ends frees its hospital's slot. Uploads are raw sockets that send their headers and part of
// the body, then wait. On both database engines.
import { EventEmitter } from 'node:events';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UploadSlots } from '../../services/aggregator/lib/upload-slots.ts';
import type { DatabaseKind } from '../../shared/db/index.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import type { FakeBehaviour } from './fake-hospital.ts';
import { AggregatorHarness, type RegisteredFake } from './harness.ts';
import { deadUrl, registerHospital, waitForRun } from './helpers.ts';
import { holdUpload, sendUpload, updateForm, type RawResponse } from './raw-upload.ts';

/** A form refused once read (400 invalid-meta): completing it changes nothing. */
const FORM = updateForm({}, 256 * 1024);
/** What a held upload sends before it waits: its headers and the first 64 KiB. */
const PART = 64 * 1024;

beforeAll(async () => {
  await useTestBackend();
});

function errorOf(res: RawResponse): { code: string; message: string } {
  return (JSON.parse(res.body) as { error: { code: string; message: string } }).error;
}

/** Polls with whole uploads of FORM until one is read (400), not refused as in progress. */
async function slotFreed(url: string, runId: string, token: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const res = await sendUpload(url, runId, token, FORM);
    if (res.status === 400) {
      expect(errorOf(res).code).toBe('invalid-meta');
      return;
    }
    expect(errorOf(res).code).toBe('upload-in-progress');
    if (Date.now() > deadline) throw new Error('the slot was not freed within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each(['pglite', 'postgres'] as const)('update intake on %s', (kind: DatabaseKind) => {
  const h = new AggregatorHarness();

  afterEach(() => h.close());

  async function hospital(name: string, behaviour: FakeBehaviour = {}): Promise<RegisteredFake> {
    return (await h.addHospitals({ [name]: behaviour }))[name];
  }

  async function startRun(body: Record<string, unknown>): Promise<string> {
    const res = await h.postRun(body);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.id;
  }

  /**
   * A one-round run whose round 1 is open, with `names` selected; each fake has trained and
   * holds its own upload until `release`.
   */
  async function openRound(...names: string[]): Promise<{
    runId: string;
    fakes: RegisteredFake[];
    release(): void;
  }> {
    const fakes = [];
    for (const name of names) fakes.push(await hospital(name));
    const holds = fakes.map((f) => f.hold(1));
    const release = () => holds.forEach((open) => open());
    h.onClose(release);
    const runId = await startRun({ rounds: 1, roundTimeoutSeconds: 60 });
    await waitForRun(h.agg.url, runId, (r) => r.rounds[0]?.status === 'dispatched');
    while (fakes.some((f) => f.trains.length === 0)) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return { runId, fakes, release };
  }

  it('refuses an unknown run and an unselected hospital before reading the body', async () => {
    await h.start(kind);
    const { runId, fakes, release } = await openRound('hospital-a');
    // Registered once round 1 has started: selected in no round of the run.
    const outsider = await registerHospital(h.agg.url, 'hospital-out', await deadUrl());

    // 40 MB announced, 64 KiB sent: the answer comes without the rest.
    const big = updateForm({}, 40_000_000);
    for (const [target, token, status, code] of [
      [runId, outsider.token, 403, 'not-selected'],
      ['no-such-run', fakes[0].token, 404, 'run-not-found'],
    ] as const) {
      const held = await holdUpload(h.agg.url, target, token, big, PART);
      const started = Date.now();
      const res = await held.connection.response(3_000);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(res.status).toBe(status);
      expect(errorOf(res).code).toBe(code);
      held.connection.abort();
    }

    // The body sent after the answer is discarded; the same connection answers its next request.
    const held = await holdUpload(h.agg.url, runId, outsider.token, FORM, 0);
    expect((await held.connection.response(3_000)).status).toBe(403);
    await held.connection.write(FORM);
    await held.connection.write('GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
    expect((await held.connection.response()).status).toBe(200);
    held.connection.abort();

    // Audited like a refusal after the body (round and job unknown).
    const refused = await h.db.prisma.auditEvent.findMany({ where: { action: 'update.refused' } });
    expect(refused.map((e) => (e.details as { code: string }).code).sort()).toEqual([
      'not-selected',
      'not-selected',
      'run-not-found',
    ]);

    // The selected hospital's own upload goes through.
    release();
    const run = await waitForRun(h.agg.url, runId);
    expect(run.status, run.failureReason ?? '').toBe('completed');
    expect(fakes[0].uploads.map((u) => u.status)).toEqual([202]);
  });

  it('refuses a late upload as round-closed before the body, recording it; a retry is read', async () => {
    await h.start(kind);
    const a = await hospital('hospital-a');
    const silent = await hospital('hospital-silent', { silent: true });
    const runId = await startRun({ rounds: 1, roundTimeoutSeconds: 1 });
    const run = await waitForRun(h.agg.url, runId);
    expect(run.status, run.failureReason ?? '').toBe('completed');

    const late = await holdUpload(h.agg.url, runId, silent.token, FORM, PART);
    const res = await late.connection.response(3_000);
    late.connection.abort();
    expect(res.status).toBe(409);
    expect(errorOf(res)).toMatchObject({
      code: 'round-closed',
      message: 'late update refused: round 1 is completed',
    });
    const after = await waitForRun(h.agg.url, runId);
    const update = after.rounds[0].updates.find((u) => u.hospitalId === silent.id);
    expect(update).toMatchObject({ status: 'timed_out' });
    expect(update?.failureReason).toMatch(
      /^no update before the deadline .*; late update refused: round 1 is completed$/,
    );

    // A hospital whose update was received may send again (a retry after a lost answer gets
    // the recorded status): its body is read.
    const retry = await holdUpload(h.agg.url, runId, a.token, FORM, PART);
    expect(await retry.connection.silentFor(500)).toBe(true);
    const read = await retry.complete();
    retry.connection.abort();
    expect(read.status).toBe(400);
    expect(errorOf(read).code).toBe('invalid-meta');
  });

  it('takes one upload per hospital at a time, refusing the next before its body', async () => {
    await h.start(kind);
    const { runId, fakes, release } = await openRound('hospital-a', 'hospital-b');
    const [a, b] = fakes;

    const first = await holdUpload(h.agg.url, runId, a.token, FORM, PART);
    // Not refused: it holds hospital-a's slot, waiting for the rest of its body.
    expect(await first.connection.silentFor(500)).toBe(true);
    const second = await holdUpload(h.agg.url, runId, a.token, FORM, 0);
    const started = Date.now();
    const refused = await second.connection.response(3_000);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(refused.status).toBe(409);
    expect(errorOf(refused)).toMatchObject({
      code: 'upload-in-progress',
      message: 'another upload of hospital hospital-a is in progress: send one at a time',
    });
    second.connection.abort();
    // Another hospital is not held up by it.
    const other = await holdUpload(h.agg.url, runId, b.token, FORM, PART);
    expect(await other.connection.silentFor(300)).toBe(true);

    // The first completes (refused once read): the slot is free; the nodes' own uploads go in.
    const done = await first.complete();
    first.connection.abort();
    expect(done.status).toBe(400);
    expect(errorOf(done).code).toBe('invalid-meta');
    expect((await other.complete()).status).toBe(400);
    other.connection.abort();
    release();
    const run = await waitForRun(h.agg.url, runId);
    expect(run.status, run.failureReason ?? '').toBe('completed');
    expect(run.rounds[0].updates.map((u) => u.status)).toEqual(['accepted', 'accepted']);
    expect(a.uploads.map((u) => u.status)).toEqual([202]);
    const inProgress = await h.db.prisma.auditEvent.findMany({
      where: { action: 'update.refused' },
    });
    expect(inProgress.map((e) => (e.details as { code: string }).code)).toContain(
      'upload-in-progress',
    );
  });

  it('frees the slot of an upload the client aborts, and of one cut at the deadline (408)', async () => {
    await h.start(kind, { config: { requestTimeoutMs: 1_000 } });
    const { runId, fakes, release } = await openRound('hospital-a');
    const [a] = fakes;

    const aborted = await holdUpload(h.agg.url, runId, a.token, FORM, PART);
    expect(await aborted.connection.silentFor(300)).toBe(true);
    expect((await sendUpload(h.agg.url, runId, a.token, FORM)).status).toBe(409);
    aborted.connection.abort();
    await slotFreed(h.agg.url, runId, a.token);

    // Never completed: Node answers its bare 408 and closes the connection.
    const slow = await holdUpload(h.agg.url, runId, a.token, FORM, PART);
    const deadline = Date.now() + 5_000;
    while (!slow.connection.isClosed && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(slow.connection.received()).toMatch(/^HTTP\/1\.1 408 /);
    await slotFreed(h.agg.url, runId, a.token);

    release();
    const run = await waitForRun(h.agg.url, runId);
    expect(run.status, run.failureReason ?? '').toBe('completed');
    expect(a.uploads.map((u) => u.status)).toEqual([202]);
  });
});

describe('UploadSlots', () => {
  /** A request and reply whose response and socket are event emitters. */
  function exchange(): {
    request: FastifyRequest;
    reply: FastifyReply;
    res: EventEmitter & { closed: boolean; writableFinished: boolean };
    socket: EventEmitter & { destroyed: boolean };
  } {
    const res = Object.assign(new EventEmitter(), { closed: false, writableFinished: false });
    const socket = Object.assign(new EventEmitter(), { destroyed: false });
    return {
      request: { raw: { socket } } as unknown as FastifyRequest,
      reply: { raw: res } as unknown as FastifyReply,
      res,
      socket,
    };
  }

  it('holds a key until the exchange is over and the handler done, releasing once', async () => {
    const slots = new UploadSlots();
    const one = exchange();
    expect(slots.tryTake('a', one.request, one.reply)).toBe(true);
    const b = exchange();
    expect(slots.tryTake('b', b.request, b.reply)).toBe(true);
    const other = exchange();
    expect(slots.tryTake('a', other.request, other.reply)).toBe(false);

    let finish = (): void => {};
    const handler = slots.run(one.request, () => new Promise<void>((r) => (finish = r)));
    // The client hung up after its whole upload: the handler still holds the key.
    one.res.emit('close');
    one.socket.emit('close');
    expect(slots.tryTake('a', other.request, other.reply)).toBe(false);
    finish();
    await handler;
    expect(slots.count).toBe(1); // 'b'
    const next = exchange();
    expect(slots.tryTake('a', next.request, next.reply)).toBe(true);
    // Late events of the first exchange do not free the new holder's key.
    one.res.emit('finish');
    expect(slots.tryTake('a', other.request, other.reply)).toBe(false);
    next.res.emit('finish');
    expect(slots.count).toBe(1);
  });

  it('frees the key at once when the client was gone before it was taken', () => {
    const slots = new UploadSlots();
    const gone = exchange();
    gone.socket.destroyed = true;
    expect(slots.tryTake('a', gone.request, gone.reply)).toBe(true);
    expect(slots.count).toBe(0);
  });
});
