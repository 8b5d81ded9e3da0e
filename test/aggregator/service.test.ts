// The aggregator as a service: configuration, local mode, secrets kept out of logs and
// answers, and an update of the full-size model. Engine-independent: PGlite only.
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../services/aggregator/app.ts';
import { loadAggregatorConfig } from '../../services/aggregator/config.ts';
import { ConfigError } from '../../shared/service/config.ts';
import { REDACTED_PATHS } from '../../shared/service/create-app.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { startFakeHospital } from './fake-hospital.ts';
import {
  ADMIN_TOKEN,
  FAST,
  freshState,
  json,
  registerHospital,
  startAggregator,
  TINY_RUN,
  waitForRun,
} from './helpers.ts';

beforeAll(async () => {
  await useTestBackend();
});

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

describe('aggregator configuration', () => {
  it('fills the defaults', () => {
    expect(loadAggregatorConfig({})).toEqual({
      port: 3000,
      host: '127.0.0.1',
      stateDir: '.state/aggregator',
      requestTimeoutMs: 600_000,
    });
  });

  it('reads every variable and names the bad ones', () => {
    expect(
      loadAggregatorConfig({
        PORT: '8080',
        HOST: '0.0.0.0',
        DATABASE_URL: 'postgresql://fedxray@db:5432/fedxray',
        STATE_DIR: '/var/lib/fedxray',
        ADMIN_TOKEN: 'a-long-enough-admin-token',
        PUBLIC_URL: 'https://aggregator.example',
        REQUEST_TIMEOUT_MS: '120000',
      }),
    ).toEqual({
      port: 8080,
      host: '0.0.0.0',
      databaseUrl: 'postgresql://fedxray@db:5432/fedxray',
      stateDir: '/var/lib/fedxray',
      adminToken: 'a-long-enough-admin-token',
      publicUrl: 'https://aggregator.example',
      requestTimeoutMs: 120_000,
    });
    const bad = { PORT: 'x', DATABASE_URL: 'mysql://db', ADMIN_TOKEN: 'short', PUBLIC_URL: 'host' };
    expect(() => loadAggregatorConfig(bad)).toThrow(ConfigError);
    expect(() => loadAggregatorConfig(bad)).toThrow(
      /PORT: .*\n.*DATABASE_URL: .*\n.*ADMIN_TOKEN: .*\n.*PUBLIC_URL/,
    );
  });
});

describe('aggregator service', () => {
  it('local mode: generates the admin token, logs it once, and no other secret', async () => {
    const state = await freshState('pglite');
    cleanups.push(state.cleanup);
    const lines: string[] = [];
    const app: FastifyInstance = await buildApp(
      { port: 0, host: '127.0.0.1', stateDir: state.stateDir },
      {
        ...FAST,
        database: state.test.db,
        logger: { level: 'debug', redact: REDACTED_PATHS, stream: { write: (l) => lines.push(l) } },
      },
    );
    cleanups.push(() => app.close());
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const announced = lines.filter((l) => l.includes('local mode'));
    expect(announced).toHaveLength(1);
    const admin = /admin token of this process is (\S+?)"/.exec(announced[0])?.[1] as string;
    expect(admin).toMatch(/^[\w-]{32}$/);

    const fake = await startFakeHospital('hospital-a', () => url);
    cleanups.push(() => fake.close());
    const { status, body } = await json<{ token: string; id: string }>(`${url}/hospitals`, {
      method: 'POST',
      token: admin,
      body: JSON.stringify({ name: 'hospital-a', baseUrl: fake.url }),
    });
    expect(status).toBe(201);
    fake.token = body.token;
    const run = await json<{ id: string }>(`${url}/rounds`, {
      method: 'POST',
      token: admin,
      body: JSON.stringify({ ...TINY_RUN, rounds: 1 }),
    });
    expect((await waitForRun(url, run.body.id)).status).toBe('completed');
    await fake.settled();

    const { tokenHash } = await state.test.db.prisma.hospital.findUniqueOrThrow({
      where: { id: body.id },
    });
    const answers = await Promise.all(
      ['/hospitals', '/rounds', `/rounds/${run.body.id}`, '/models', '/models/production'].map(
        async (path) => JSON.stringify((await json(`${url}${path}`, { token: admin })).body),
      ),
    );
    const audit = JSON.stringify(await state.test.db.prisma.auditEvent.findMany());
    expect(lines.length).toBeGreaterThan(20);
    for (const text of [...lines, ...answers, audit]) {
      expect(text).not.toContain(body.token);
      expect(text).not.toContain(tokenHash);
    }
    expect(lines.filter((l) => l.includes(admin))).toHaveLength(1);
    expect(answers.join('')).not.toContain(admin);
  });

  it('takes an update of the full-size model (11.3 M float32 weights)', async () => {
    const state = await freshState('pglite');
    cleanups.push(state.cleanup);
    const agg = await startAggregator(state.test.db, state.stateDir);
    cleanups.push(() => agg.app.close());
    const fake = await startFakeHospital('hospital-a', () => agg.url);
    cleanups.push(() => fake.close());
    fake.token = (await registerHospital(agg.url, 'hospital-a', fake.url)).token;
    const run = await json<{ id: string }>(`${agg.url}/rounds`, {
      method: 'POST',
      token: ADMIN_TOKEN,
      body: JSON.stringify({ rounds: 1, inputSize: 64, width: 64 }),
    });
    const done = await waitForRun(agg.url, run.body.id);
    expect(done.status, done.failureReason ?? '').toBe('completed');
    await fake.settled();
    expect(fake.uploads[0].status).toBe(202);
    const update = await state.test.db.prisma.clientUpdate.findFirstOrThrow();
    expect(update.sizeBytes).toBeGreaterThan(45_000_000);
  });

  it('answers an update body with a large part lacking Content-Disposition (busboy hang regression)', async () => {
    const state = await freshState('pglite');
    cleanups.push(state.cleanup);
    const agg = await startAggregator(state.test.db, state.stateDir);
    cleanups.push(() => agg.app.close());
    const fake = await startFakeHospital('hospital-a', () => agg.url);
    cleanups.push(() => fake.close());
    const { token } = await registerHospital(agg.url, 'hospital-a', fake.url);
    fake.token = token;
    // Selected in an open round, so that its upload is read (others are refused before it).
    const release = fake.hold(1);
    cleanups.push(async () => {
      release();
      await fake.settled();
    });
    const run = await json<{ id: string }>(`${agg.url}/rounds`, {
      method: 'POST',
      token: ADMIN_TOKEN,
      body: JSON.stringify({ ...TINY_RUN, rounds: 1, roundTimeoutSeconds: 60 }),
    });
    await waitForRun(agg.url, run.body.id, (r) => r.rounds[0]?.status === 'dispatched');
    const boundary = 'fedxray-regression';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Type: application/octet-stream\r\n\r\n`),
      Buffer.alloc(100_000, 0x41),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const res = await Promise.race([
      fetch(`${agg.url}/rounds/${run.body.id}/updates`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': `multipart/form-data; boundary=${boundary}`,
        },
        body,
      }),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('hang')), 10_000)),
    ]);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('missing-meta');
  });
});
