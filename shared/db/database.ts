// The aggregator's database: PostgreSQL through @prisma/adapter-pg when DATABASE_URL is given,
// otherwise an embedded PGlite (PostgreSQL compiled to wasm, in this process) whose files live
// in `${stateDir}/pglite`. Pending migrations are applied when the database is opened.
// See docs/database.md.
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';

import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';

import { PrismaClient } from './generated/client.ts';
import {
  applyMigrations,
  PRISMA_ADVISORY_LOCK_ID,
  readMigrations,
  type MigrateResult,
  type SqlSession,
} from './migrate.ts';
import { processAlive } from '../util/process-alive.ts';

export type DatabaseKind = 'postgres' | 'pglite';

export type Database = {
  prisma: PrismaClient;
  kind: DatabaseKind;
  /** What opening did to the schema; null when opened with `migrate: false`. */
  migrations: MigrateResult | null;
  /** Disconnects Prisma and closes the pool (postgres) or the embedded database (PGlite). */
  close(): Promise<void>;
};

export interface OpenDatabaseOptions {
  /** postgres://user@host:port/db[?schema=NAME]. Without it: PGlite in `${stateDir}/pglite`. */
  databaseUrl?: string;
  stateDir: string;
  /** Apply pending migrations (default true). */
  migrate?: boolean;
  /** Where warnings go (edited or unknown migrations). Default console.warn. */
  warn?: (message: string) => void;
}

export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  const url = opts.databaseUrl?.trim();
  if (url) return openPostgres(url, opts);
  return openPgliteDir(path.join(opts.stateDir, 'pglite'), opts);
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

// Lower case only: PostgreSQL folds unquoted names, and search_path is set unquoted.
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Splits `?schema=NAME` off a PostgreSQL URL (pg itself would not understand it). */
export function parsePostgresUrl(databaseUrl: string): {
  connectionString: string;
  schema?: string;
} {
  let parsed: URL;
  try {
    parsed = new URL(databaseUrl);
  } catch {
    throw new Error(
      'DATABASE_URL is not a valid URL (expected postgres://user@host:port/database)',
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new Error(
      `DATABASE_URL must start with postgres:// or postgresql:// (got ${parsed.protocol}//)`,
    );
  }
  const schema = parsed.searchParams.get('schema') ?? undefined;
  parsed.searchParams.delete('schema');
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new Error(`schema name in DATABASE_URL must match ${SCHEMA_NAME} (got "${schema}")`);
  }
  return { connectionString: parsed.toString(), schema };
}

async function openPostgres(databaseUrl: string, opts: OpenDatabaseOptions): Promise<Database> {
  const { connectionString, schema } = parsePostgresUrl(databaseUrl);
  const pool = new pg.Pool({
    connectionString,
    // Every connection, Prisma's included, works in the schema by default: the migrations
    // (unqualified names) create their tables there.
    options: schema ? `-c search_path=${schema}` : undefined,
    max: 10,
  });
  pool.on('error', () => {
    // An idle client lost its connection (server restart...). The pool drops it and the next
    // query opens a new one; without this listener the error would crash the process.
  });
  try {
    let migrations: MigrateResult | null = null;
    const client = await pool.connect().catch((error: Error) => {
      throw new Error(
        `cannot connect to PostgreSQL at ${redact(connectionString)}: ${error.message}`,
        {
          cause: error,
        },
      );
    });
    try {
      // Under Prisma's migration lock: concurrent CREATE SCHEMA IF NOT EXISTS can still fail.
      await client.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK_ID]);
      try {
        if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
        if (opts.migrate !== false) migrations = await applyMigrations(pgSession(client));
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK_ID]);
      }
      if (migrations) report(migrations, opts.warn);
    } finally {
      client.release();
    }
    const prisma = new PrismaClient({
      adapter: new PrismaPg(pool, schema ? { schema } : undefined),
    });
    return {
      prisma,
      kind: 'postgres',
      migrations,
      close: once(async () => {
        await prisma.$disconnect();
        await pool.end();
      }),
    };
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }
}

function pgSession(client: pg.PoolClient): SqlSession {
  return {
    query: async <T>(sql: string, params?: unknown[]) =>
      (await client.query(sql, params)).rows as T[],
    exec: async (sql: string) => {
      await client.query(sql);
    },
  };
}

/** The URL with its password replaced by `***` (for messages and logs). */
export function redact(connectionString: string): string {
  try {
    const u = new URL(connectionString);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

// ---------------------------------------------------------------------------------------------
// PGlite

/** Data directories this process has open (PGlite allows one process, one instance per dir). */
const openDirs = new Set<string>();

async function openPgliteDir(dataDir: string, opts: OpenDatabaseOptions): Promise<Database> {
  mkdirSync(dataDir, { recursive: true });
  const key = realpathSync(dataDir);
  if (openDirs.has(key)) {
    throw new Error(`the embedded database in ${dataDir} is already open in this process`);
  }
  const lockPath = `${key}.lock`;
  const releaseLock = acquireLockFile(lockPath, dataDir);
  openDirs.add(key);
  let db: PGlite | undefined;
  try {
    db = await PGlite.create(dataDir);
    return await wrapPglite(db, {
      ...opts,
      onClose: () => {
        openDirs.delete(key);
        releaseLock();
      },
    });
  } catch (error) {
    await db?.close().catch(() => {});
    openDirs.delete(key);
    releaseLock();
    throw error;
  }
}

/**
 * Migrates an already-created PGlite instance and puts Prisma on it. Closing the returned
 * Database closes `db`. Used by openDatabase and by the test helpers (in-memory clones).
 */
export async function wrapPglite(
  db: PGlite,
  opts: { migrate?: boolean; warn?: (message: string) => void; onClose?: () => void },
): Promise<Database> {
  let migrations: MigrateResult | null = null;
  if (opts.migrate !== false) {
    migrations = await applyMigrations(pgliteSession(db), readMigrations());
    report(migrations, opts.warn);
  }
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(db) });
  return {
    prisma,
    kind: 'pglite',
    migrations,
    close: once(async () => {
      try {
        await prisma.$disconnect();
        await db.close();
      } finally {
        opts.onClose?.();
      }
    }),
  };
}

export function pgliteSession(db: PGlite): SqlSession {
  return {
    query: async <T>(sql: string, params?: unknown[]) => (await db.query<T>(sql, params)).rows,
    exec: async (sql: string) => {
      await db.exec(sql);
    },
  };
}

/**
 * A lock file next to the data directory holding the owner's pid: PGlite has no lock of its
 * own, and two processes writing one data directory would corrupt it. A lock left by a process
 * that no longer runs is taken over. Returns the release function (also run at process exit).
 */
function acquireLockFile(lockPath: string, dataDir: string): () => void {
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
      let owner = NaN;
      try {
        owner = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
      } catch {
        // unreadable or vanished: treat as stale
      }
      if (Number.isInteger(owner) && owner !== process.pid && processAlive(owner)) {
        throw new Error(
          `the embedded database in ${dataDir} is in use by another process (pid ${owner}); ` +
            `stop it first (lock file ${lockPath}), or use PostgreSQL (DATABASE_URL) to share a database`,
        );
      }
      try {
        unlinkSync(lockPath);
      } catch {
        // someone else removed it first; the retry decides
      }
    }
  }
  const release = () => {
    process.off('exit', release);
    try {
      if (readFileSync(lockPath, 'utf8').trim() === String(process.pid)) unlinkSync(lockPath);
    } catch {
      // already gone
    }
  };
  process.on('exit', release);
  return release;
}

// ---------------------------------------------------------------------------------------------

function report(result: MigrateResult, warn: (message: string) => void = console.warn): void {
  if (result.edited.length > 0) {
    warn(
      `database: migrations changed after they were applied (checksum differs): ${result.edited.join(', ')}; ` +
        'never edit an applied migration, add a new one (npm run db:migration -- NAME)',
    );
  }
  if (result.unknown.length > 0) {
    warn(
      `database: the database has migrations this code does not know: ${result.unknown.join(', ')} ` +
        '(opened by a newer version?)',
    );
  }
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let promise: Promise<void> | undefined;
  return () => (promise ??= fn());
}
