/** TRAIN_THREADS: a node splits each batch between threads (data-parallel local training). */
import { rm } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../services/hospital-node/app.ts';
import type { JobView } from '../../services/hospital-node/schemas/job.ts';
import { tf } from '../../shared/tf/tf.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { startFakeAggregator, type FakeAggregator } from './fake-aggregator.ts';
import {
  hospitalConfig,
  makeHospitalData,
  signedPost,
  TOKEN,
  trainRequest,
  waitForJob,
  type LocalSecrets,
} from './fixtures.ts';

let secrets: LocalSecrets;
let fake: FakeAggregator;
let node: FastifyInstance;

beforeAll(async () => {
  await useTestBackend();
  secrets = await makeHospitalData(8);
  fake = await startFakeAggregator(TOKEN);
  node = await buildApp(hospitalConfig(secrets.dir, fake.url, { trainThreads: 2 }), {
    logger: false,
    retry: { retries: 1, minTimeoutMs: 10 },
  });
});
afterAll(async () => {
  await node?.close();
  await fake?.close();
  await rm(secrets.dir, { recursive: true, force: true });
});

async function trainRound(round: number): Promise<JobView> {
  const res = await signedPost(node, '/train', trainRequest(fake.model, { round }));
  expect(res.status, res.text).toBe(202);
  return waitForJob(node, res.body.jobId as string);
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
