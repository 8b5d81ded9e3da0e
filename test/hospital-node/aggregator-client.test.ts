// The node's client of the aggregator: which answers it retries.
import { describe, expect, it } from 'vitest';
import {
  AggregatorClient,
  type UpdateMeta,
} from '../../services/hospital-node/lib/aggregator-client.ts';
import type { NamedWeights } from '../../shared/weights/index.ts';

const META: UpdateMeta = {
  round: 1,
  hospitalId: 'h1',
  jobId: 'job-1',
  baseModelId: 'm0',
  numSamples: 10,
  metrics: { loss: 0.5, accuracy: 0.8 },
  durationMs: 1,
};
const WEIGHTS: NamedWeights[] = [
  { name: 'dense/kernel', shape: [2], data: new Float32Array([1, 2]) },
];

function errorAnswer(status: number, code: string): Response {
  return new Response(JSON.stringify({ error: { code, message: `${code} message` } }), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

function clientAnswering(answers: Response[]): { client: AggregatorClient; calls: () => number } {
  let calls = 0;
  const fetchImpl = (async () => {
    const answer = answers[Math.min(calls, answers.length - 1)];
    calls++;
    return answer;
  }) as unknown as typeof fetch;
  const client = new AggregatorClient({
    baseUrl: 'http://aggregator.test',
    token: 'token-of-the-hospital',
    fetch: fetchImpl,
    retry: { retries: 2, minTimeoutMs: 1, factor: 1 },
  });
  return { client, calls: () => calls };
}

describe('AggregatorClient.uploadUpdate', () => {
  it('waits out 409 upload-in-progress (a previous upload still being read) like a 5xx', async () => {
    const { client, calls } = clientAnswering([
      errorAnswer(409, 'upload-in-progress'),
      errorAnswer(503, 'database-unavailable'),
      new Response('{}', { status: 200 }),
    ]);
    const signal = new AbortController().signal;
    await expect(client.uploadUpdate('run-1', META, WEIGHTS, signal)).resolves.toMatchObject({
      bytes: expect.any(Number),
    });
    expect(calls()).toBe(3);
  });

  it('gives up at once on other 4xx answers, with the reason', async () => {
    const { client, calls } = clientAnswering([errorAnswer(409, 'round-closed')]);
    const signal = new AbortController().signal;
    await expect(client.uploadUpdate('run-1', META, WEIGHTS, signal)).rejects.toThrow(
      /answered POST .* with 409: round-closed message/,
    );
    expect(calls()).toBe(1);
  });
});
