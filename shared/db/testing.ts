// Test helpers: fresh, migrated, isolated databases.
//
//   const { db, cleanup } = await createTestDatabase('pglite');   // or 'postgres'
//   try { ... db.prisma ... } finally { await cleanup(); }
//
// PGlite: an in-memory database cloned from a migrated template that is built once per process
// (creating a PGlite database takes about 5 s, a clone about 0.5 s).
// PostgreSQL: a new database `fedxray_test_<pid>_<n>_<random>` on the server at
// FEDXRAY_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres), dropped by
// cleanup(). Databases left behind by test processes that died are dropped on the next run.
import { randomBytes } from 'node:crypto';

import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

import {
  openDatabase,
  pgliteSession,
  wrapPglite,
  type Database,
  type DatabaseKind,
} from './database.ts';
import { applyMigrations, readMigrations } from './migrate.ts';
import { processAlive } from '../util/process-alive.ts';

export const TEST_POSTGRES_ADMIN_URL =
  process.env.FEDXRAY_TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/** Prefix of every database createTestDatabase('postgres') creates. */
export const TEST_DATABASE_PREFIX = 'fedxray_test_';

export interface TestDatabase {
  db: Database;
  /** postgres only: the URL of the test database (to open it again). */
  databaseUrl?: string;
  /** Closes the database and deletes it. Safe to call twice. */
  cleanup(): Promise<void>;
}

export async function createTestDatabase(kind: DatabaseKind): Promise<TestDatabase> {
  return kind === 'pglite' ? createPgliteTestDatabase() : createPostgresTestDatabase();
}

// ---------------------------------------------------------------------------------------------

let template: Promise<Blob> | undefined;

/** A dump of an empty, migrated PGlite data directory (built once per process). */
export function pgliteTemplate(): Promise<Blob> {
  template ??= (async () => {
    const db = await PGlite.create();
    try {
      await applyMigrations(pgliteSession(db), readMigrations());
      return await db.dumpDataDir('none');
    } finally {
      await db.close();
    }
  })();
  return template;
}

async function createPgliteTestDatabase(): Promise<TestDatabase> {
  const pglite = await PGlite.create({ loadDataDir: await pgliteTemplate() });
  // Migrating again is a no-op on the template, but it checks the clone and fills db.migrations.
  const db = await wrapPglite(pglite, {});
  return { db, cleanup: db.close };
}

// ---------------------------------------------------------------------------------------------

let counter = 0;
let swept: Promise<void> | undefined;

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_ADMIN_URL });
  await client.connect().catch((error: Error) => {
    throw new Error(
      `PostgreSQL for the tests is not reachable at ${TEST_POSTGRES_ADMIN_URL} (${error.message}); ` +
        'start it (pg_ctlcluster 15 main start) or set FEDXRAY_TEST_POSTGRES_URL',
      { cause: error },
    );
  });
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function testDatabaseUrl(name: string): string {
  const url = new URL(TEST_POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drops test databases whose creating process (pid in the name) no longer runs. */
async function sweepStaleTestDatabases(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ datname: string }>(
    'SELECT datname FROM pg_database WHERE datname LIKE $1',
    [`${TEST_DATABASE_PREFIX.replaceAll('_', '\\_')}%`],
  );
  for (const { datname } of rows) {
    const pid = Number(/^fedxray_test_(\d+)_/.exec(datname)?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || processAlive(pid)) continue;
    await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`).catch(() => {});
  }
}

async function createPostgresTestDatabase(): Promise<TestDatabase> {
  const name = `${TEST_DATABASE_PREFIX}${process.pid}_${++counter}_${randomBytes(4).toString('hex')}`;
  await withAdmin(async (client) => {
    swept ??= sweepStaleTestDatabases(client);
    await swept;
    await client.query(`CREATE DATABASE "${name}"`);
  });
  const databaseUrl = testDatabaseUrl(name);
  let db: Database;
  try {
    db = await openDatabase({ databaseUrl, stateDir: '/nonexistent' });
  } catch (error) {
    await dropTestDatabase(name);
    throw error;
  }
  let done: Promise<void> | undefined;
  return {
    db,
    databaseUrl,
    cleanup: () =>
      (done ??= (async () => {
        try {
          await db.close();
        } finally {
          await dropTestDatabase(name);
        }
      })()),
  };
}

export async function dropTestDatabase(name: string): Promise<void> {
  await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

/** Names of the test databases that exist on the server now. */
export async function listTestDatabases(): Promise<string[]> {
  return withAdmin(async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY datname',
      [`${TEST_DATABASE_PREFIX.replaceAll('_', '\\_')}%`],
    );
    return rows.map((r) => r.datname);
  });
}
