// One aggregator per PostgreSQL database and schema: a second one refuses to start, naming the
// holder; the lock goes when the holder closes or its connection dies. No training.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../services/aggregator/app.ts';
import { InstanceLockError } from '../../services/aggregator/lib/instance-lock.ts';
import { createTestDatabase, type TestDatabase } from '../../shared/db/testing.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { ADMIN_TOKEN, FAST } from './helpers.ts';

let test: TestDatabase;
let stateRoot: string;
let apps: FastifyInstance[] = [];

beforeAll(async () => {
  await useTestBackend();
  test = await createTestDatabase('postgres');
  // The aggregators under test open the database by its URL.
  await test.db.close();
  stateRoot = await mkdtemp(path.join(tmpdir(), 'fedxray-instance-lock-'));
});

afterEach(async () => {
  for (const app of apps.reverse()) await app.close();
  apps = [];
});

afterAll(async () => {
  await test?.cleanup();
  if (stateRoot) await rm(stateRoot, { recursive: true, force: true });
});

let stateDirs = 0;

/** An aggregator on `databaseUrl` (plus `query`), closed after the test; `lines`: its log. */
async function startOn(query = '', lines?: string[]): Promise<FastifyInstance> {
  const app = await buildApp(
    {
      port: 0,
      host: '127.0.0.1',
      stateDir: path.join(stateRoot, `state-${++stateDirs}`),
      adminToken: ADMIN_TOKEN,
      databaseUrl: `${test.databaseUrl}${query}`,
    },
    {
      ...FAST,
      ...(lines ? { logger: { level: 'info', stream: { write: (l) => lines.push(l) } } } : {}),
    },
  );
  apps.push(app);
  return app;
}

async function close(app: FastifyInstance): Promise<void> {
  await app.close();
  apps = apps.filter((a) => a !== app);
}

/** Runs `sql` on the test database from a connection of the test's own. */
async function admin<T extends pg.QueryResultRow>(sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: test.databaseUrl });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

const LOCK_SESSIONS = `SELECT pid, application_name FROM pg_stat_activity
  WHERE application_name LIKE 'fedxray-aggregator%' AND datname = current_database()`;

describe('the aggregator instance lock (PostgreSQL)', () => {
  it('refuses a second aggregator on the same database, naming the holder; free again once closed', async () => {
    const lines: string[] = [];
    const first = await startOn('', lines);
    expect(lines.join('')).toMatch(/instance lock taken/);
    const sessions = await admin<{ application_name: string }>(LOCK_SESSIONS);
    expect(sessions).toHaveLength(1);
    expect(sessions[0].application_name).toMatch(
      new RegExp(`^fedxray-aggregator pid=${process.pid} host=`),
    );
    expect(sessions[0].application_name.length).toBeLessThanOrEqual(63);

    const second = startOn();
    await expect(second).rejects.toThrow(InstanceLockError);
    await expect(second).rejects.toThrow(
      new RegExp(`another aggregator already uses .*\\(schema public\\).*pid=${process.pid}`),
    );
    await expect(second).rejects.toThrow(/Stop the other aggregator/);
    // The refused one left no session behind; the first one still answers.
    expect(await admin(LOCK_SESSIONS)).toHaveLength(1);
    expect((await first.inject({ url: '/health' })).statusCode).toBe(200);

    await close(first);
    expect(await admin(LOCK_SESSIONS)).toHaveLength(0);
    const third = await startOn();
    expect((await third.inject({ url: '/health' })).statusCode).toBe(200);
  });

  it('lets aggregators on other schemas of the same database start', async () => {
    await startOn();
    await startOn('?schema=tenant_a');
    await startOn('?schema=tenant_b');
    await expect(startOn('?schema=tenant_a')).rejects.toThrow(
      /another aggregator already uses .*\(schema tenant_a\)/,
    );
    expect(await admin(LOCK_SESSIONS)).toHaveLength(3);
  });

  it("is released when the holder's connection dies, and the holder goes on (logged)", async () => {
    const lines: string[] = [];
    const first = await startOn('', lines);
    const terminated = await admin<{ done: boolean }>(
      `SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity
        WHERE application_name LIKE 'fedxray-aggregator%' AND datname = current_database()`,
    );
    expect(terminated).toEqual([{ done: true }]);
    await expect.poll(() => lines.join(''), { timeout: 5_000 }).toMatch(/instance lock was lost/);

    const second = await startOn();
    expect((await second.inject({ url: '/health' })).statusCode).toBe(200);
    // The first did not crash on its lost connection (its other connections are untouched).
    expect((await first.inject({ url: '/health' })).statusCode).toBe(200);
    expect((await first.inject({ url: '/info' })).statusCode).toBe(200);
  });
});
