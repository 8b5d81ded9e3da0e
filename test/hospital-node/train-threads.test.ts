/** TRAIN_THREADS: a node splits each batch between threads (data-parallel local training). */
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import type { JobView } from '../../services/hospital-node/schemas/job.ts';
import { tf } from '../../shared/tf/tf.ts';
import { signedPost, trainRequest, waitForJob } from './fixtures.ts';
import { useHospitalNode } from './test-node.ts';

const hospital = useHospitalNode({
  perClass: 8,
  config: () => ({ trainThreads: 2 }),
  deps: { retry: { retries: 1, minTimeoutMs: 10 } },
});

async function trainRound(round: number): Promise<JobView> {
  const res = await signedPost(
    hospital.node,
    '/train',
    trainRequest(hospital.fake.model, { round }),
  );
  expect(res.status, res.text).toBe(202);
  return waitForJob(hospital.node, res.body.jobId as string);
}

describe('hospital node: TRAIN_THREADS', () => {
  it('trains data-parallel, pushes the update and keeps tensors flat', async () => {
    const info = await request(hospital.node.server).get('/info');
    expect(info.body.trainThreads).toBe(2);
    const first = await trainRound(1);
    expect(first.status, JSON.stringify(first)).toBe('done');
    const tensors = tf.memory().numTensors;
    const second = await trainRound(2);
    expect(second.status).toBe('done');
    expect(tf.memory().numTensors).toBe(tensors);
    expect(hospital.fake.updates).toHaveLength(2);
    expect(hospital.fake.updates[1].meta.numSamples).toBeGreaterThan(0);
  });
});
