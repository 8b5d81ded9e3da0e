// A hospital node behind a firewall (OUTBOUND_ONLY): it never listens, takes the aggregator's
// requests by long-polling GET /nodes/work and trains and evaluates like a reachable node.
// One run over a reachable node and an outbound-only one: both take part in every round.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp as buildAggregator } from '../../services/aggregator/app.ts';
import { buildApp as buildHospital } from '../../services/hospital-node/app.ts';
import { TINY_RUN, waitForRun } from '../aggregator/helpers.ts';
import { freePort } from '../helpers/ports.ts';
import { partitionSample } from '../helpers/sample-partition.ts';
import { useTestBackend } from '../helpers/tiny.ts';

const ADMIN_TOKEN = 'outbound-admin-token-0123456789abcdef';
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const cleanups: (() => Promise<unknown>)[] = [];

interface RunBody {
  status: string;
  failureReason: string | null;
  rounds: {
    status: string;
    metrics: { validation: { hospitals: number } | null };
    updates: { hospitalName: string; status: string }[];
  }[];
}

let aggregatorUrl: string;
let root: string;

beforeAll(async () => {
  await useTestBackend();
  root = await mkdtemp(path.join(tmpdir(), 'fedxray-outbound-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const aggregator = await buildAggregator(
    {
      port: 0,
      host: '127.0.0.1',
      stateDir: path.join(root, 'aggregator'),
      adminToken: ADMIN_TOKEN,
    },
    { logger: false, jobPollMs: 250 },
  );
  cleanups.push(() => aggregator.close());
  aggregatorUrl = await aggregator.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  const started = performance.now();
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  // Neither side waits out a long poll when it closes.
  expect(performance.now() - started).toBeLessThan(10_000);
});

async function node(name: string, dataDir: string, outbound: boolean) {
  const port = await freePort();
  const registered = await request(aggregatorUrl)
    .post('/hospitals')
    .set(admin)
    .send({ name, baseUrl: outbound ? 'outbound:' : `http://127.0.0.1:${port}` });
  expect(registered.status).toBe(201);
  const app = await buildHospital(
    {
      hospitalId: name,
      dataDir,
      aggregatorUrl,
      hospitalToken: registered.body.token as string,
      port,
      host: '127.0.0.1',
      valFraction: 0.2,
      seed: 42,
      outboundOnly: outbound,
    },
    { logger: false, retry: { retries: 2, minTimeoutMs: 200 } },
  );
  cleanups.push(() => app.close());
  // The outbound-only node accepts no connection at all: it does not even listen.
  if (!outbound) await app.listen({ port, host: '127.0.0.1' });
  return { app, token: registered.body.token as string };
}

describe('an outbound-only hospital node', () => {
  it('takes part in every round without accepting a connection', async () => {
    const [northDir, southDir] = await partitionSample(path.join(root, 'data'), [
      'hospital-north',
      'hospital-south',
    ]);
    const north = await node('hospital-north', northDir, false);
    await node('hospital-south', southDir, true);

    // A reachable node's token cannot poll: the aggregator calls it at its baseUrl.
    const refused = await request(aggregatorUrl)
      .get('/nodes/work?waitSeconds=0')
      .set({ authorization: `Bearer ${north.token}` });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('not-outbound');

    const started = await request(aggregatorUrl)
      .post('/rounds')
      .set(admin)
      .send({ ...TINY_RUN, roundTimeoutSeconds: 60, seed: 42 });
    expect(started.status).toBe(202);
    const run = (await waitForRun(
      aggregatorUrl,
      started.body.id as string,
      undefined,
      90_000,
    )) as unknown as RunBody;
    expect(run.status, run.failureReason ?? '').toBe('completed');
    for (const round of run.rounds) {
      expect(round.updates.map((u) => [u.hospitalName, u.status])).toEqual([
        ['hospital-north', 'accepted'],
        ['hospital-south', 'accepted'],
      ]);
      // Both scored the new model: the outbound node answered POST /evaluate through its poll.
      expect(round.metrics.validation?.hospitals).toBe(2);
    }
  });
});
