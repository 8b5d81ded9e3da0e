// A standby aggregator (STANDBY=true) on the same PostgreSQL and STATE_DIR as the active one:
// it serves reads, refuses writes with 503 standby, and when the active one is killed (kill -9)
// mid-round it takes the instance lock, becomes active within seconds and resumes the run,
// which completes. The nodes reach the aggregators through a proxy that follows GET /ready,
// as a load balancer's health check would.
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, Platform } from './platform.ts';
import { freePort, ServiceProcess, waitFor } from './processes.ts';

const HOSPITALS = ['hospital-north', 'hospital-south'];

/** Forwards to the upstream that last answered GET /ready with 200 (checked every 200 ms). */
async function readinessProxy(
  upstreams: () => string[],
): Promise<{ url: string; close(): Promise<void> }> {
  let target: string | undefined;
  const probe = setInterval(async () => {
    for (const url of upstreams()) {
      const ok = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(500) })
        .then((res) => res.ok)
        .catch(() => false);
      if (ok) {
        target = url;
        return;
      }
    }
    target = undefined;
  }, 200);
  const server: Server = createServer((req, res) => {
    if (!target) {
      res.writeHead(503, { 'retry-after': '1' }).end();
      return;
    }
    const forward = httpRequest(
      new URL(req.url ?? '/', target),
      { method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.writeHead(502).end());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      clearInterval(probe);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const admin = (url: string, method = 'GET', body?: unknown) =>
  fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

describe('a standby aggregator', () => {
  let platform: Platform | undefined;
  let standby: ServiceProcess | undefined;
  let proxy: Awaited<ReturnType<typeof readinessProxy>> | undefined;
  let cleanupDb: (() => Promise<void>) | undefined;

  afterEach(async () => {
    await standby?.stop();
    await platform?.stop();
    await proxy?.close();
    await cleanupDb?.();
  });

  it('serves reads, refuses writes, and takes over a run when the active one is killed', async () => {
    const { createTestDatabase } = await import('../../shared/db/testing.ts');
    const test = await createTestDatabase('postgres');
    await test.db.close();
    cleanupDb = test.cleanup;
    const databaseUrl = test.databaseUrl;
    if (!databaseUrl) throw new Error('a PostgreSQL test database has a URL');

    let upstreams: string[] = [];
    proxy = await readinessProxy(() => upstreams);
    platform = await Platform.start({
      hospitals: HOSPITALS,
      databaseUrl,
      nodeAggregatorUrl: proxy.url,
    });
    standby = new ServiceProcess('standby', 'services/aggregator/main.ts', await freePort(), {
      STATE_DIR: path.join(platform.root, 'aggregator'),
      ADMIN_TOKEN,
      DATABASE_URL: databaseUrl,
      STANDBY: 'true',
      STANDBY_POLL_SECONDS: '1',
    });
    await standby.start();
    upstreams = [platform.aggregator.url, standby.url];
    expect(standby.output).toMatch(/standby: another aggregator holds the instance lock/);

    // The standby: not ready, reads answer, writes are refused with 503 standby.
    const notReady = await fetch(`${standby.url}/ready`);
    expect(notReady.status).toBe(503);
    expect(((await notReady.json()) as { error: { code: string } }).error.code).toBe('standby');
    expect((await fetch(`${platform.aggregator.url}/ready`)).status).toBe(200);
    const hospitals = (await (await admin(`${standby.url}/hospitals`)).json()) as {
      hospitals: { name: string }[];
    };
    expect(hospitals.hospitals.map((h) => h.name).sort()).toEqual([...HOSPITALS].sort());
    const refused = await admin(`${standby.url}/rounds`, 'POST', { rounds: 1 });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');

    const runId = await platform.startRun({ rounds: 3, localEpochs: 4, roundTimeoutSeconds: 300 });
    await platform.waitForRun(
      runId,
      120_000,
      (run) => run.rounds[0]?.status === 'completed' && run.rounds[1]?.status === 'dispatched',
    );
    await platform.aggregator.crash();
    const killedAt = performance.now();
    await waitFor(
      'the standby to take over',
      async () => ((await fetch(`${standby?.url}/ready`)).ok ? true : undefined),
      30_000,
      100,
    );
    const takeoverSeconds = (performance.now() - killedAt) / 1000;
    expect(takeoverSeconds).toBeLessThan(15);

    platform.adminUrl = standby.url;
    const run = await platform.waitForRun(runId, 180_000);
    expect(run.status, `${run.failureReason}\n${standby.output.slice(-3000)}`).toBe('completed');
    expect(run.rounds.map((r) => r.status)).toEqual(['completed', 'completed', 'completed']);
    const models = (await platform.models()).filter((m) => m.runId === runId);
    expect(models.map((m) => m.roundIndex).sort()).toEqual([0, 1, 2, 3]);
    expect(standby.output).toMatch(/this aggregator is now the active one/);
    expect(standby.output).toMatch(/resuming training run/);
  });
});
