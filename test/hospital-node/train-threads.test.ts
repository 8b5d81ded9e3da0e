/** TRAIN_THREADS: a node splits each batch between threads (data-parallel local training). */
import { rm } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../services/hospital-node/app.ts';
import type { JobView } from '../../services/hospital-node/schemas/job.ts';
import { hashToken } from '../../shared/service/auth.ts';
import { SIGNATURE_HEADER, signRequest } from '../../shared/service/signing.ts';
import { tf } from '../../shared/tf/tf.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { startFakeAggregator, type FakeAggregator } from './fake-aggregator.ts';
import { hospitalConfig, makeHospitalData, TOKEN, type LocalSecrets } from './fixtures.ts';

let secrets: LocalSecrets;
let fake: FakeAggregator;
let node: FastifyInstance;

beforeAll(async () => {
  await useTestBackend();
  secrets = await makeHospitalData(8);
  fake = await startFakeAggregator(TOKEN);
  node = await buildApp(hospitalConfig(secrets.dir, fake.url, { trainThreads: 2 }), {
    logger: false,
    retryDelaysMs: [10],
  });
});
afterAll(async () => {
  await node?.close();
  await fake?.close();
  await rm(secrets.dir, { recursive: true, force: true });
});

async function trainRound(round: number, architecture = 'se-resnet18-gn'): Promise<JobView> {
  const json = JSON.stringify({
    runId: `run-${architecture}`,
    round,
    model: fake.model,
    architecture,
    inputSize: 32,
    width: 8,
    preprocessing: { inputSize: 32, normalization: 'per-image', equalize: false },
    settings: { epochs: 1, batchSize: 8, augment: false },
    schedule: { startEpoch: 0, totalEpochs: 2 },
  });
  const res = await request(node.server)
    .post('/train')
    .set('content-type', 'application/json')
    .set(SIGNATURE_HEADER, signRequest(hashToken(TOKEN), 'POST', '/train', json))
    .send(json);
  expect(res.status, res.text).toBe(202);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const job = (await request(node.server).get(`/train/${res.body.jobId}`)).body as JobView;
    if (job.status === 'done' || job.status === 'failed') return job;
    if (Date.now() > deadline) throw new Error('job stuck');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('hospital node: TRAIN_THREADS', () => {
  it('trains data-parallel, pushes the update and keeps tensors flat', async () => {
    const info = await request(node.server).get('/info');
    expect(info.body.trainThreads).toBe(2);
    const first = await trainRound(1);
    expect(first.status, JSON.stringify(first)).toBe('done');
    const tensors = tf.memory().numTensors;
    const second = await trainRound(2);
    expect(second.status).toBe('done');
    expect(tf.memory().numTensors).toBe(tensors);
    expect(fake.updates).toHaveLength(2);
    expect(fake.updates[1].meta.numSamples).toBeGreaterThan(0);
  });
});
