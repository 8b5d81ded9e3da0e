// Two inference API replicas behind a load balancer during a promotion (issue 15 item 4): a
// round-robin proxy in front of both, /diagnose asked without pause while the aggregator's
// production model changes. No request fails, and each replica serves the new model within
// its poll interval of the promotion; GET /models/current says which model a replica serves.
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type InferenceApp } from '../../services/inference-api/app.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import {
  sampleJpeg,
  startFakeAggregator,
  tinyAggregatorModel,
  type FakeAggregator,
} from './fixtures.ts';

const POLL_SECONDS = 0.3;

let aggregator: FakeAggregator;
const replicas: { app: InferenceApp; url: string }[] = [];
let proxy: Server;
let proxyUrl: string;

/** Round-robin over the replicas; names the one that answered in x-replica. */
function startProxy(upstreams: string[]): Promise<Server> {
  let next = 0;
  const server = createServer((req, res) => {
    const index = next++ % upstreams.length;
    const target = new URL(req.url ?? '/', upstreams[index]);
    const forward = httpRequest(target, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, { ...answer.headers, 'x-replica': String(index) });
      answer.pipe(res);
    });
    forward.on('error', () => {
      res.writeHead(502).end();
    });
    req.pipe(forward);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function diagnose(): Promise<{ status: number; replica: number; modelId?: string }> {
  const form = new FormData();
  form.append('image', new Blob([sampleJpeg()], { type: 'image/jpeg' }), 'xray.jpg');
  const res = await fetch(`${proxyUrl}/diagnose`, { method: 'POST', body: form });
  const body = (await res.json()) as { model?: { id: string } };
  return {
    status: res.status,
    replica: Number(res.headers.get('x-replica')),
    modelId: body.model?.id,
  };
}

async function currentModel(url: string): Promise<string | undefined> {
  const res = await fetch(`${url}/models/current`);
  return res.ok ? ((await res.json()) as { id: string }).id : undefined;
}

beforeAll(async () => {
  await useTestBackend();
  aggregator = await startFakeAggregator();
  aggregator.production = tinyAggregatorModel('model-a', 1, 1);
  for (let i = 0; i < 2; i++) {
    const app = await buildApp(
      {
        port: 0,
        host: '127.0.0.1',
        aggregatorUrl: aggregator.url,
        modelPollSeconds: POLL_SECONDS,
        maxUploadBytes: 10 * 1024 * 1024,
      },
      { logger: false },
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    replicas.push({ app, url: `http://127.0.0.1:${port}` });
  }
  proxy = await startProxy(replicas.map((r) => r.url));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => proxy?.close(resolve));
  for (const r of replicas) await r.app.close();
  await aggregator?.close();
});

describe('two inference API replicas behind a load balancer', () => {
  it('serve every request through a promotion and both switch within the poll interval', async () => {
    // Both have loaded model-a (the first poll runs at start).
    for (const r of replicas) {
      while ((await currentModel(r.url)) !== 'model-a') await r.app.reload();
    }
    const answers: Awaited<ReturnType<typeof diagnose>>[] = [];
    const before = await Promise.all([diagnose(), diagnose()]);
    answers.push(...before);
    expect(new Set(before.map((a) => a.replica))).toEqual(new Set([0, 1]));

    aggregator.production = tinyAggregatorModel('model-b', 2, 2);
    const promotedAt = performance.now();
    const switchedAfter: (number | undefined)[] = [undefined, undefined];
    // Requests without pause until both replicas have answered with model-b.
    while (switchedAfter.some((s) => s === undefined)) {
      const batch = await Promise.all([diagnose(), diagnose()]);
      answers.push(...batch);
      for (const a of batch) {
        if (a.modelId === 'model-b' && switchedAfter[a.replica] === undefined) {
          switchedAfter[a.replica] = (performance.now() - promotedAt) / 1000;
        }
      }
      expect(performance.now() - promotedAt).toBeLessThan(20_000);
    }

    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    // Each replica went from a to b once, never back.
    for (const index of [0, 1]) {
      const seen = answers.filter((a) => a.replica === index).map((a) => a.modelId);
      const firstB = seen.indexOf('model-b');
      expect(seen.slice(0, firstB).every((id) => id === 'model-a')).toBe(true);
      expect(seen.slice(firstB).every((id) => id === 'model-b')).toBe(true);
    }
    // Within one poll interval plus the load of a tiny model (generous for a loaded CI machine).
    for (const s of switchedAfter) expect(s).toBeLessThan(POLL_SECONDS + 5);
    expect(await Promise.all(replicas.map((r) => currentModel(r.url)))).toEqual([
      'model-b',
      'model-b',
    ]);
  });
});
