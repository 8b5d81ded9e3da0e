import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { metricTypes, parseExposition, sampleValue, type Sample } from '../helpers/prometheus.ts';
import { leaks, signedPost, trainRequest, waitForJob } from './fixtures.ts';
import { useHospitalNode } from './test-node.ts';

const hospital = useHospitalNode({ perClass: 10 });

async function scrape(): Promise<{ text: string; samples: Sample[] }> {
  const res = await request(hospital.node.server).get('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return { text: res.text, samples: parseExposition(res.text) };
}

describe('hospital node metrics', () => {
  it('tells the training throughput and the jobs by state, and nothing local', async () => {
    const before = await scrape();
    expect(metricTypes(before.text).get('fedxray_hospital_training_images_per_second')).toBe(
      'gauge',
    );
    expect(sampleValue(before.samples, 'fedxray_hospital_jobs', { state: 'done' })).toBe(0);

    const started = await signedPost(
      hospital.node,
      '/train',
      trainRequest(hospital.fake.model, { settings: { epochs: 2, batchSize: 8, augment: false } }),
    );
    expect(started.status, started.text).toBe(202);
    const job = await waitForJob(hospital.node, started.body.jobId as string);
    expect(job.status, job.error ?? '').toBe('done');

    const { text, samples } = await scrape();
    // Two epochs over the whole train split.
    const train = job.metrics?.numSamples ?? 0;
    expect(train).toBeGreaterThan(0);
    expect(sampleValue(samples, 'fedxray_hospital_training_images_total')).toBe(2 * train);
    expect(sampleValue(samples, 'fedxray_hospital_training_seconds_total')).toBeGreaterThan(0);
    expect(sampleValue(samples, 'fedxray_hospital_training_images_per_second')).toBeCloseTo(
      (2 * train) / sampleValue(samples, 'fedxray_hospital_training_seconds_total'),
      6,
    );
    expect(sampleValue(samples, 'fedxray_hospital_jobs_finished_total', { status: 'done' })).toBe(
      1,
    );
    expect(sampleValue(samples, 'fedxray_hospital_jobs', { state: 'done' })).toBe(1);
    expect(sampleValue(samples, 'fedxray_hospital_jobs', { state: 'training' })).toBe(0);
    expect(
      sampleValue(samples, 'http_requests_total', {
        method: 'GET',
        route: '/train/:jobId',
        status_code: '200',
      }),
    ).toBeGreaterThan(0);
    expect(leaks(text, hospital.secrets)).toEqual([]);
  });
});
