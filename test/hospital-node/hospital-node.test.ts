import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HospitalClient } from '../../services/aggregator/lib/hospital-client.ts';
import { buildApp } from '../../services/hospital-node/app.ts';
import { publicMessage, scrub } from '../../services/hospital-node/lib/errors.ts';
import type { JobView } from '../../services/hospital-node/schemas/job.ts';
import { classWeightsFromCounts } from '../../shared/data/class-balance.ts';
import {
  curveProblem,
  histogramTotals,
  RELIABILITY_BINS,
  TEMPERATURE_GRID,
  type ScoreHistogram,
  type TemperatureCurve,
} from '../../shared/metrics/index.ts';
import { hashToken } from '../../shared/service/auth.ts';
import { SIGNATURE_HEADER, signRequest } from '../../shared/service/signing.ts';
import { tf } from '../../shared/tf/tf.ts';
import { decodeWeights, unpackWeights, WEIGHTS_MEDIA_TYPE } from '../../shared/weights/index.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { startFakeAggregator, type FakeAggregator } from './fake-aggregator.ts';
import {
  hospitalConfig,
  leaks,
  makeHospitalData,
  signedPost,
  TOKEN,
  trainRequest,
  waitForJob as waitForJobOf,
  type LocalSecrets,
} from './fixtures.ts';

const AUTH = `Bearer ${TOKEN}`;

const FAST_RETRIES = { logger: false, retry: { retries: 2, minTimeoutMs: 20 } } as const;

let secrets: LocalSecrets;
let fake: FakeAggregator;
let app: FastifyInstance;
/** Every answer of every node in this file, for the privacy scan. */
const seen: string[] = [];

async function send(test: request.Test): Promise<request.Response> {
  const res = await test;
  seen.push(`${JSON.stringify(res.headers)}\n${res.text}`);
  return res;
}

function trainBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return trainRequest(fake.model, overrides);
}

async function startJob(node: FastifyInstance, body = trainBody()): Promise<string> {
  const res = await send(signedPost(node, '/train', body));
  expect(res.status, res.text).toBe(202);
  return res.body.jobId as string;
}

function waitForJob(
  node: FastifyInstance,
  jobId: string,
  until?: (job: JobView) => boolean,
): Promise<JobView> {
  return waitForJobOf(node, jobId, until, (res) =>
    seen.push(`${JSON.stringify(res.headers)}\n${res.text}`),
  );
}

/** A URL where nothing listens. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

beforeAll(async () => {
  await useTestBackend();
  secrets = await makeHospitalData(20);
  fake = await startFakeAggregator(TOKEN);
  app = await buildApp(hospitalConfig(secrets.dir, fake.url), FAST_RETRIES);
});

afterAll(async () => {
  await app?.close();
  await fake?.close();
  if (secrets) await rm(secrets.dir, { recursive: true, force: true });
});

describe('hospital node: status routes', () => {
  it('answers /health and /info with counts only', async () => {
    expect((await send(request(app.server).get('/health'))).body).toMatchObject({ status: 'ok' });
    const info = await send(request(app.server).get('/info'));
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({
      hospitalId: 'hospital-a',
      samples: { NORMAL: 20, PNEUMONIA: 20, total: 40 },
      backend: tf.getBackend(),
    });
    const { train, validation } = info.body.splits;
    expect(train.total + validation.total).toBe(40);
    expect(validation.NORMAL).toBeGreaterThan(0);
    expect(validation.PNEUMONIA).toBeGreaterThan(0);
    expect(info.body.version).toMatch(/^\d+\.\d+\.\d+/);
    const docs = await send(request(app.server).get('/docs/json'));
    expect(Object.keys(docs.body.paths)).toEqual(
      expect.arrayContaining([
        '/info',
        '/train',
        '/train/{jobId}',
        '/train/{jobId}/cancel',
        '/evaluate',
      ]),
    );
  });

  it('answers 404 for unknown jobs and routes', async () => {
    const job = await send(request(app.server).get('/train/no-such-job'));
    expect(job.status).toBe(404);
    expect(job.body.error.code).toBe('job-not-found');
    expect((await send(request(app.server).get('/images'))).status).toBe(404);
  });
});

describe('POST /train: admission', () => {
  it('needs a request signed by the aggregator', async () => {
    const none = await send(request(app.server).post('/train').send(trainBody()));
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthorized');
    expect(none.body.error.message).toMatch(/missing x-fedxray-signature/);
    expect(none.headers['www-authenticate']).toBe('FedXray-Signature');
    // The token itself is no longer accepted on these routes: the aggregator keeps only its hash.
    const bearer = await send(
      request(app.server).post('/train').set('authorization', AUTH).send(trainBody()),
    );
    expect(bearer.status).toBe(401);
    const wrongKey = await send(
      signedPost(app, '/train', trainBody(), { token: 'another-token-0123456789' }),
    );
    expect(wrongKey.status).toBe(401);
    expect(wrongKey.body.error.message).toMatch(/does not match/);
    const otherRoute = await send(
      signedPost(app, '/train', trainBody(), { signedPath: '/evaluate' }),
    );
    expect(otherRoute.status).toBe(401);
    const old = await send(
      signedPost(app, '/train', trainBody(), { now: Date.now() - 10 * 60_000 }),
    );
    expect(old.status).toBe(401);
    expect(old.body.error.message).toMatch(/too old/);
    const json = JSON.stringify(trainBody());
    const tampered = await send(
      request(app.server)
        .post('/train')
        .set('content-type', 'application/json')
        .set(SIGNATURE_HEADER, signRequest(hashToken(TOKEN), 'POST', '/train', json))
        .send(json.replace('"round":1', '"round":7')),
    );
    expect(tampered.status).toBe(401);
    const evaluate = await send(request(app.server).post('/evaluate').send({}));
    expect(evaluate.status).toBe(401);
    expect(fake.downloads).toBe(0);
  });

  it('rejects bad bodies with the reason', async () => {
    const post = (body: string | object): request.Test => signedPost(app, '/train', body);
    const badJson = await send(post('{"runId": '));
    expect(badJson.status).toBe(400);
    expect(badJson.body.error.message).toBeTruthy();
    const missing = await send(post({ ...trainBody(), runId: undefined }));
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/runId/);
    const badArch = await send(post(trainBody({ architecture: 'resnet999' })));
    expect(badArch.status).toBe(400);
    const settings = await send(post(trainBody({ settings: { epochs: 0, learningRate: -1 } })));
    expect(settings.status).toBe(400);
    expect(settings.body.error.code).toBe('invalid-settings');
    expect(settings.body.error.message).toMatch(/epochs must be a positive integer/);
    expect(settings.body.error.message).toMatch(/learning rate/);
    const typo = await send(post(trainBody({ settings: { epoch: 2 } })));
    expect(typo.status).toBe(400);
    const size = await send(
      post(trainBody({ preprocessing: { inputSize: 64, normalization: 'unit', equalize: false } })),
    );
    expect(size.status).toBe(400);
    expect(size.body.error.message).toMatch(/inputSize/);
    expect(fake.downloads).toBe(0);
  });

  it('refuses class weights that are not two finite numbers >= 0, not both 0', async () => {
    const withWeights = (classWeights: unknown) =>
      trainBody({ settings: { epochs: 1, batchSize: 8, classWeights } });
    for (const classWeights of [[1], [1, 2, 3], [], [-1, 2], [1, 'a'], 'both', null, { 0: 1 }]) {
      const res = await send(signedPost(app, '/train', withWeights(classWeights)));
      expect(res.status, JSON.stringify(classWeights)).toBe(400);
      expect(res.body.error.message, JSON.stringify(classWeights)).toMatch(/classWeights/);
    }
    const zero = await send(signedPost(app, '/train', withWeights([0, 0])));
    expect(zero.status).toBe(400);
    expect(zero.body.error.code).toBe('invalid-settings');
    expect(zero.body.error.message).toMatch(
      /class weights must be two finite numbers >= 0, not both 0/,
    );
    // JSON has no Infinity, but 1e400 parses to it.
    const huge = JSON.stringify(withWeights([1, 2])).replace('[1,2]', '[1e400,2]');
    const infinite = await send(signedPost(app, '/train', huge));
    expect(infinite.status).toBe(400);
    expect(infinite.body.error.message).toMatch(/class weights|classWeights/);
    expect(fake.downloads).toBe(0);
  });

  it('refuses maxStepsPerEpoch that is not an integer in [1, 1000000]', async () => {
    for (const maxStepsPerEpoch of [0, 1.5, -1, 1000001, 'all']) {
      const body = trainBody({ settings: { epochs: 1, batchSize: 8, maxStepsPerEpoch } });
      const res = await send(signedPost(app, '/train', body));
      expect(res.status, JSON.stringify(maxStepsPerEpoch)).toBe(400);
      expect(res.body.error.message, JSON.stringify(maxStepsPerEpoch)).toMatch(/maxStepsPerEpoch/);
    }
    expect(fake.downloads).toBe(0);
  });

  it('refuses proximalMu that is not a number in [0, 999]', async () => {
    for (const proximalMu of [-0.1, 1000, 'strong']) {
      const body = trainBody({ settings: { epochs: 1, batchSize: 8, proximalMu } });
      const res = await send(signedPost(app, '/train', body));
      expect(res.status, JSON.stringify(proximalMu)).toBe(400);
      expect(res.body.error.message, JSON.stringify(proximalMu)).toMatch(/proximalMu/);
    }
    expect(fake.downloads).toBe(0);
  });
});

describe('POST /train: a round of local training', () => {
  let tensorsAfterFirstJob = 0;

  it('trains, pushes a valid update and reports the job', async () => {
    const info = await send(request(app.server).get('/info'));
    const jobId = await startJob(app);
    const job = await waitForJob(app, jobId);
    expect(job.error).toBeNull();
    expect(job).toMatchObject({
      jobId,
      runId: 'run-1',
      round: 1,
      baseModelId: 'model-1',
      status: 'done',
      progress: { epoch: 1, epochs: 1, step: 4, steps: 4 },
    });
    expect(job.metrics?.numSamples).toBe(info.body.splits.train.total);
    expect(job.metrics?.durationMs).toBeGreaterThan(0);
    expect(Number.isFinite(job.metrics?.loss)).toBe(true);
    tensorsAfterFirstJob = tf.memory().numTensors;

    expect(fake.updates).toHaveLength(1);
    const update = fake.updates[0];
    expect(update.runId).toBe('run-1');
    expect(update.authorization).toBe(AUTH);
    expect(update.fieldOrder).toEqual(['meta', 'weights']);
    expect(update.weightsType).toBe(WEIGHTS_MEDIA_TYPE);
    expect(update.meta).toEqual({
      round: 1,
      hospitalId: 'hospital-a',
      jobId,
      baseModelId: 'model-1',
      numSamples: info.body.splits.train.total,
      metrics: { loss: job.metrics?.loss, accuracy: job.metrics?.accuracy },
      durationMs: job.metrics?.durationMs,
    });
    const { manifest, blob } = unpackWeights(update.weights);
    expect(manifest.dtype).toBe('float32');
    expect(job.update).toEqual({ sha256: manifest.sha256, bytes: update.weights.length });
    const weights = decodeWeights(manifest, blob);
    expect(weights.map((w) => [w.name, w.shape])).toEqual(
      fake.global.map((w) => [w.name, w.shape]),
    );
    const changed = weights.filter((w, i) => w.data.some((v, j) => v !== fake.global[i].data[j]));
    expect(changed.length).toBeGreaterThan(weights.length / 2);
    expect(weights.every((w) => w.data.every(Number.isFinite))).toBe(true);

    // The aggregator retrying the same request gets the same job, not a second upload.
    expect(await startJob(app)).toBe(jobId);
    expect(fake.updates).toHaveLength(1);
  });

  it('keeps tf.memory().numTensors flat across jobs and evaluations', async () => {
    const jobId = await startJob(app, trainBody({ round: 2 }));
    expect((await waitForJob(app, jobId)).status).toBe('done');
    expect(tf.memory().numTensors).toBe(tensorsAfterFirstJob);
    const res = await send(signedPost(app, '/evaluate', trainBody()));
    expect(res.status).toBe(200);
    expect(tf.memory().numTensors).toBe(tensorsAfterFirstJob);
  });

  it('retries a failed upload', async () => {
    fake.failUploads(2);
    const before = fake.uploadAttempts;
    const jobId = await startJob(app, trainBody({ round: 3 }));
    expect((await waitForJob(app, jobId)).status).toBe('done');
    expect(fake.uploadAttempts - before).toBe(3);
    expect(fake.updates.at(-1)?.meta.round).toBe(3);
  });

  it("trains with the class weights it is sent instead of its own images'", async () => {
    const { train } = (await send(request(app.server).get('/info'))).body.splits;
    const own = classWeightsFromCounts([train.NORMAL, train.PNEUMONIA]);
    const settings = { epochs: 1, batchSize: 8, augment: false, seed: 7 };
    const lossWith = async (round: number, extra: object): Promise<number> => {
      const body = trainBody({ runId: 'run-cw', round, settings: { ...settings, ...extra } });
      const job = await waitForJob(app, await startJob(app, body));
      expect(job.status, job.error ?? '').toBe('done');
      expect(job.metrics?.numSamples).toBe(train.total);
      return job.metrics?.loss ?? NaN;
    };
    const local = await lossWith(1, {});
    // The reported loss is the mean of w[label] x CE: the node's own weights give the same
    // training, 100 times them scale it (Adam's steps barely change).
    expect(await lossWith(2, { classWeights: own })).toBeCloseTo(local, 5);
    const scaled = await lossWith(3, { classWeights: own.map((w) => 100 * w) });
    expect(scaled / local).toBeGreaterThan(50);
    expect(scaled / local).toBeLessThan(200);
  });

  it('stops each epoch after settings.maxStepsPerEpoch steps', async () => {
    const { train } = (await send(request(app.server).get('/info'))).body.splits;
    expect(Math.ceil(train.total / 8)).toBeGreaterThan(1);
    // With FedProx's term too: the job trains with it (the engine's tests check its effect).
    const settings = {
      epochs: 2,
      batchSize: 8,
      augment: false,
      maxStepsPerEpoch: 1,
      proximalMu: 0.1,
    };
    const body = trainBody({ runId: 'run-steps', settings });
    const job = await waitForJob(app, await startJob(app, body));
    expect(job.status, job.error ?? '').toBe('done');
    expect(job.progress).toEqual({ epoch: 2, epochs: 2, step: 1, steps: 1 });
    // FedAvg still weighs the update by all the node's training images.
    expect(job.metrics?.numSamples).toBe(train.total);
    expect(fake.updates.at(-1)?.meta).toMatchObject({ round: 1, numSamples: train.total });
  });

  it('runs one job at a time', async () => {
    const release = fake.holdDownloads();
    try {
      const first = await startJob(app, trainBody({ runId: 'run-2' }));
      const other = await send(signedPost(app, '/train', trainBody({ runId: 'run-3' })));
      expect(other.status).toBe(409);
      expect(other.body.error.code).toBe('busy');
      expect(other.body.error.details).toEqual({ jobId: first });
      expect(await startJob(app, trainBody({ runId: 'run-2' }))).toBe(first);
      const held = await waitForJob(app, first, (job) => job.status === 'downloading');
      expect(held.progress).toEqual({ epoch: 0, epochs: 1, step: 0, steps: 4 });
      release();
      expect((await waitForJob(app, first)).status).toBe('done');
    } finally {
      release();
    }
  });

  it('replaces a running job when the aggregator restarts the same round', async () => {
    const release = fake.holdDownloads();
    try {
      const attempt1 = { epochs: 1, batchSize: 8, augment: false, seed: 1 };
      const attempt2 = { ...attempt1, seed: 2 };
      const first = await startJob(app, trainBody({ runId: 'run-4', settings: attempt1 }));
      await waitForJob(app, first, (job) => job.status === 'downloading');
      const second = await startJob(app, trainBody({ runId: 'run-4', settings: attempt2 }));
      expect(second).not.toBe(first);
      release();
      const replaced = await waitForJob(app, first);
      expect(replaced.status).toBe('failed');
      expect(replaced.error).toMatch(/^superseded: the aggregator started round 1 again/);
      expect((await waitForJob(app, second)).status).toBe('done');
      expect(fake.updates.filter((u) => u.runId === 'run-4')).toHaveLength(1);
    } finally {
      release();
    }
  });

  it('stops a job on a signed POST /train/{jobId}/cancel, then takes other work', async () => {
    // A node of its own on a port: the aggregator's own client signs the cancel.
    const node = await buildApp(hospitalConfig(secrets.dir, fake.url), FAST_RETRIES);
    const release = fake.holdDownloads();
    try {
      const baseUrl = await node.listen({ port: 0, host: '127.0.0.1' });
      const target = { id: 'h', name: 'hospital-a', baseUrl, tokenHash: hashToken(TOKEN) };
      const client = new HospitalClient();
      const uploads = fake.updates.length;
      const jobId = await startJob(node, trainBody({ runId: 'run-cancelled' }));
      await waitForJob(node, jobId, (job) => job.status === 'downloading');
      const path = `/train/${jobId}/cancel`;
      const unsigned = await send(request(node.server).post(path).send({}));
      expect(unsigned.status).toBe(401);
      const elsewhere = await send(
        signedPost(node, '/train/other-job/cancel', {}, { signedPath: path }),
      );
      expect(elsewhere.status).toBe(401);

      const cancelled = await client.cancelJob(target, jobId, AbortSignal.timeout(10_000));
      expect(cancelled).toMatchObject({
        jobId,
        status: 'failed',
        error: 'cancelled: the aggregator cancelled the run',
        finishedAt: expect.any(String),
      });
      const again = await send(signedPost(node, path, {}));
      expect(again.status).toBe(409);
      expect(again.body.error).toMatchObject({
        code: 'job-not-running',
        details: { status: 'failed' },
      });
      await expect(
        client.cancelJob(target, 'no-such-job', AbortSignal.timeout(10_000)),
      ).rejects.toMatchObject({ status: 404 });

      // Not busy any more: another run's job starts at once; the cancelled one sent nothing.
      release();
      const next = await startJob(node, trainBody({ runId: 'run-after-cancel' }));
      expect((await waitForJob(node, next)).status).toBe('done');
      expect(fake.updates.slice(uploads).map((u) => u.runId)).toEqual(['run-after-cancel']);
    } finally {
      release();
      await node.close();
    }
  });

  it('fails the job when the weights are not the ones announced', async () => {
    const uploads = fake.updates.length;
    const wrong = 'ab'.repeat(32);
    const jobId = await startJob(
      app,
      trainBody({ round: 4, model: { id: fake.model.id, sha256: wrong } }),
    );
    const job = await waitForJob(app, jobId);
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(/sha256/);
    expect(job.error).toContain(wrong);
    expect(job.error).toContain(fake.model.sha256);
    expect(fake.updates).toHaveLength(uploads);

    // A refusal (4xx) is final: no retries.
    const requests = fake.downloadRequests;
    const unknown = await waitForJob(
      app,
      await startJob(app, trainBody({ round: 5, model: { id: 'gone', sha256: wrong } })),
    );
    expect(unknown.status).toBe('failed');
    expect(unknown.error).toContain(
      `answered GET ${fake.url}/models/gone/weights with 404: no such model`,
    );
    expect(fake.downloadRequests).toBe(requests + 1);
  });

  it('fails the job, naming the aggregator, when the aggregator is down', async () => {
    const url = await deadUrl();
    const node = await buildApp(hospitalConfig(secrets.dir, url), FAST_RETRIES);
    try {
      const jobId = await startJob(node);
      const job = await waitForJob(node, jobId);
      expect(job.status).toBe('failed');
      expect(job.error).toContain(`${url}/models/model-1/weights`);
      expect(job.error).toMatch(/unavailable.*3 times.*ECONNREFUSED/);
      expect(job.error).not.toContain(TOKEN);
      const evaluation = await send(signedPost(node, '/evaluate', trainBody()));
      expect(evaluation.status).toBe(502);
      expect(evaluation.body.error.code).toBe('aggregator-unavailable');
      expect(evaluation.body.error.message).toContain(url);
    } finally {
      await node.close();
    }
  });
});

describe('POST /evaluate', () => {
  it("scores a model on the node's validation split", async () => {
    const info = await send(request(app.server).get('/info'));
    const res = await send(
      signedPost(app, '/evaluate', {
        model: fake.model,
        architecture: 'se-resnet18-gn',
        inputSize: 32,
        width: 8,
        preprocessing: { inputSize: 32, normalization: 'per-image', equalize: false },
      }),
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.n).toBe(info.body.splits.validation.total);
    expect(res.body.threshold).toBe(0.5);
    for (const key of ['accuracy', 'precision', 'recall', 'specificity', 'f1', 'auc']) {
      expect(res.body[key]).toBeGreaterThanOrEqual(0);
      expect(res.body[key]).toBeLessThanOrEqual(1);
    }
    expect(res.body.loss).toBeGreaterThan(0);
    const { tp, fp, tn, fn } = res.body.confusion;
    expect(tp + fp + tn + fn).toBe(res.body.n);

    // Class counts per score bin of the validation split, for the aggregator's threshold.
    const histogram = res.body.histogram as ScoreHistogram;
    expect(histogram.bins).toBe(100);
    expect(histogram.positive).toHaveLength(100);
    expect(histogram.negative).toHaveLength(100);
    expect(histogramTotals(histogram)).toEqual({
      positives: info.body.splits.validation.PNEUMONIA,
      negatives: info.body.splits.validation.NORMAL,
    });
    // Consistent with the confusion counts at 0.5, a bin edge.
    const above = (counts: number[]) => counts.slice(50).reduce((a, b) => a + b, 0);
    expect([above(histogram.positive), above(histogram.negative)]).toEqual([tp, fp]);

    // NLL and reliability sums at the 81 grid temperatures: sums only, so no array is as long
    // as the split (every array's length is fixed by the grid and the bins, whatever n is).
    const curve = res.body.temperature as TemperatureCurve;
    expect(
      curveProblem(curve, { temperatures: TEMPERATURE_GRID, bins: 10, images: res.body.n }),
    ).toBeNull();
    const lengths = (value: unknown): number[] =>
      Array.isArray(value)
        ? [value.length, ...value.flatMap(lengths)]
        : value !== null && typeof value === 'object'
          ? Object.values(value).flatMap(lengths)
          : [];
    expect(new Set(lengths(curve))).toEqual(new Set([81, RELIABILITY_BINS]));
    expect(res.body.n).not.toBe(81);
    expect(res.body.n).not.toBe(RELIABILITY_BINS);
    // At T = 1 the mean NLL is the node's own log-loss on the split (probabilities clipped alike).
    expect(curve.nll[40] / res.body.n).toBeCloseTo(res.body.loss, 3);
  });

  it('refuses weights that do not match the sha256 or the network', async () => {
    const mismatch = await send(
      signedPost(
        app,
        '/evaluate',
        trainBody({ model: { id: fake.model.id, sha256: 'cd'.repeat(32) } }),
      ),
    );
    expect(mismatch.status).toBe(502);
    expect(mismatch.body.error.code).toBe('weights-mismatch');
    const wider = await send(signedPost(app, '/evaluate', trainBody({ width: 16 })));
    expect(wider.status).toBe(422);
    expect(wider.body.error.code).toBe('weights-incompatible');
  });
});

describe('lifecycle', () => {
  it('closes promptly, cancelling a job in training', async () => {
    const node = await buildApp(hospitalConfig(secrets.dir, fake.url), FAST_RETRIES);
    const uploads = fake.updates.length;
    const jobId = await startJob(
      node,
      trainBody({ runId: 'run-long', settings: { epochs: 200, batchSize: 8 } }),
    );
    await waitForJob(node, jobId, (job) => job.status === 'training' && job.progress.step > 0);
    const started = performance.now();
    await node.close();
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(fake.updates).toHaveLength(uploads);
  });

  it('remembers finished jobs across restarts with STATE_DIR', async () => {
    const stateDir = await mkdtemp(path.join(tmpdir(), 'fedxray-hospital-state-'));
    const config = hospitalConfig(secrets.dir, fake.url, { stateDir });
    try {
      let node = await buildApp(config, FAST_RETRIES);
      const jobId = await startJob(node, trainBody({ runId: 'run-state' }));
      const done = await waitForJob(node, jobId);
      expect(done.status).toBe('done');
      await node.close();
      const uploads = fake.updates.length;

      node = await buildApp(config, FAST_RETRIES);
      try {
        expect((await send(request(node.server).get(`/train/${jobId}`))).body).toEqual(done);
        expect(await startJob(node, trainBody({ runId: 'run-state' }))).toBe(jobId);
        expect(fake.updates).toHaveLength(uploads);
      } finally {
        await node.close();
      }
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});

describe('privacy', () => {
  it('reports unreadable local images by category, without naming them', async () => {
    const broken = await makeHospitalData(3);
    try {
      for (const [i, name] of broken.fileNames.entries()) {
        const folder = i < 3 ? 'NORMAL' : 'PNEUMONIA';
        await writeFile(path.join(broken.dir, folder, name), 'not a jpeg at all');
      }
      const node = await buildApp(
        hospitalConfig(broken.dir, fake.url, { valFraction: 0.4 }),
        FAST_RETRIES,
      );
      try {
        const job = await waitForJob(node, await startJob(node, trainBody({ runId: 'broken' })));
        expect(job.status).toBe('failed');
        expect(job.error).toMatch(/^a local image could not be read \(\w[\w-]*\)$/);
        const evaluation = await send(signedPost(node, '/evaluate', trainBody()));
        expect(evaluation.status).toBe(500);
        expect(evaluation.body.error.code).toBe('local-data-error');
        for (const text of seen) expect(leaks(text, broken)).toEqual([]);
      } finally {
        await node.close();
      }
    } finally {
      await rm(broken.dir, { recursive: true, force: true });
    }
  });

  it('scrubs local identifiers from any other message', () => {
    const ids = ['/data/h1/NORMAL/scan-17.jpg', 'scan-17.jpg', 'scan-17', '0122', '/data/h1'];
    expect(scrub('cannot open /data/h1/NORMAL/scan-17.jpg (patient 0122)', ids)).toBe(
      'cannot open [redacted] (patient [redacted])',
    );
    expect(scrub('got 10122 values at /data/h1', ids)).toBe('got 10122 values at [redacted]');
    expect(publicMessage(new Error('bad scan-17 in /data/h1/x'), ids)).toBe(
      'bad [redacted] in [redacted]/x',
    );
  });

  it('never answers or sends file names, paths or patient ids', async () => {
    const job = fake.updates[0].meta.jobId as string;
    for (const url of ['/health', '/info', '/docs/json', `/train/${job}`, '/train/x', '/nope']) {
      await send(request(app.server).get(url));
    }
    expect(seen.length).toBeGreaterThan(40);
    for (const text of seen) expect(leaks(text, secrets)).toEqual([]);
    for (const update of fake.updates) {
      expect(leaks(JSON.stringify(update.meta), secrets)).toEqual([]);
      const { manifest } = unpackWeights(update.weights);
      expect(leaks(JSON.stringify(manifest), secrets)).toEqual([]);
    }
    // The scan does find the secrets where they are.
    expect(leaks(`${secrets.dir}/NORMAL/${secrets.fileNames[0]}`, secrets).length).toBeGreaterThan(
      0,
    );
  });
});
