// Applies the migrations in prisma/migrations/*/migration.sql to a PostgreSQL (or PGlite)
// database, recording them in Prisma's `_prisma_migrations` table the way
// `prisma migrate deploy` does, so the Prisma CLI (where it can run) sees the same history.
//
// Why not the schema engine? `prisma migrate deploy` needs the native engine, which cannot be
// downloaded offline. The wasm engine (@prisma/schema-engine-wasm) can apply migrations, but it
// is 5 MB of wasm to instantiate at every start and keeps the process alive for about 10 s
// afterwards. Applying a migration is simple enough to do here, and test/db/migrations.test.ts
// checks that the wasm engine accepts the result (same table, same checksums, no drift).
//
// What is recorded, per migration, as Prisma records it: a uuid `id`, the `checksum` (sha256,
// lowercase hex, of the raw bytes of migration.sql), `migration_name` (the directory name),
// `started_at`, `finished_at` and `applied_steps_count` = 1; `logs` and `rolled_back_at` null.
//
// Differences from Prisma, on purpose:
// - Each migration runs inside a transaction together with its `_prisma_migrations` row, so a
//   failing migration leaves nothing behind (no half-applied schema, no failed row that would
//   need `prisma migrate resolve`, which cannot run offline). Fix the file and start again.
//   A migration that cannot run in a transaction (CREATE INDEX CONCURRENTLY, ...) is not
//   supported.
// - A migration whose file changed after it was applied is reported (result.edited), not fatal.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** prisma/migrations of this repository. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations/', import.meta.url));

/** The advisory lock id that Prisma's schema engine takes while migrating PostgreSQL. */
export const PRISMA_ADVISORY_LOCK_ID = 72707369;

export interface MigrationFile {
  /** Directory name, e.g. `20260101000000_init`. */
  name: string;
  sql: string;
  /** sha256 of migration.sql, lowercase hex: Prisma's checksum. */
  checksum: string;
}

export function migrationChecksum(sql: string | Buffer): string {
  return createHash('sha256').update(sql).digest('hex');
}

/** Reads `<dir>/<name>/migration.sql` for every migration directory, in name order (Prisma's). */
export function readMigrations(dir: string = MIGRATIONS_DIR): MigrationFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => statSync(path.join(dir, name)).isDirectory())
    .sort()
    .map((name) => {
      const file = path.join(dir, name, 'migration.sql');
      if (!existsSync(file)) throw new Error(`migration ${name} has no migration.sql (${file})`);
      const bytes = readFileSync(file);
      return { name, sql: bytes.toString('utf8'), checksum: migrationChecksum(bytes) };
    });
}

/** One database session (a single connection): what the migrator needs from a driver. */
export interface SqlSession {
  /** Runs one statement with $1.. parameters and returns its rows. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs a script of several statements (no parameters). */
  exec(sql: string): Promise<void>;
}

export interface MigrateResult {
  /** Migrations applied now, in order. */
  applied: string[];
  /** Applied migrations whose migration.sql no longer matches the recorded checksum. */
  edited: string[];
  /** Migrations recorded in the database that are not in the migrations directory. */
  unknown: string[];
}

// Exactly the table Prisma's schema engine creates on PostgreSQL.
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: unknown;
  rolled_back_at: unknown;
}

/**
 * Applies every migration not yet recorded as finished. Idempotent. Holds Prisma's advisory
 * lock (session level) for the whole run, so concurrent migrators (another process, or the
 * Prisma CLI) wait for each other.
 */
export async function applyMigrations(
  session: SqlSession,
  migrations: MigrationFile[] = readMigrations(),
): Promise<MigrateResult> {
  await session.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK_ID]);
  try {
    await session.exec(CREATE_MIGRATIONS_TABLE);
    const rows = await session.query<MigrationRow>(
      'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at',
    );
    const failed = rows.filter((r) => r.finished_at == null && r.rolled_back_at == null);
    if (failed.length > 0) {
      throw new Error(
        `the database has failed migrations (${failed.map((r) => r.migration_name).join(', ')}) ` +
          'recorded in _prisma_migrations; fix the database by hand and mark them rolled back ' +
          '(UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE ...) before starting again',
      );
    }
    const done = new Map<string, string>();
    for (const r of rows)
      if (r.finished_at != null && r.rolled_back_at == null) done.set(r.migration_name, r.checksum);

    const result: MigrateResult = { applied: [], edited: [], unknown: [] };
    const names = new Set(migrations.map((m) => m.name));
    for (const name of done.keys()) if (!names.has(name)) result.unknown.push(name);

    for (const m of migrations) {
      const recorded = done.get(m.name);
      if (recorded !== undefined) {
        if (!checksumMatches(m.sql, recorded)) result.edited.push(m.name);
        continue;
      }
      await session.exec('BEGIN');
      try {
        const id = randomUUID();
        await session.query(
          'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count) VALUES ($1, $2, $3, clock_timestamp(), 0)',
          [id, m.checksum, m.name],
        );
        await session.exec(m.sql);
        await session.query(
          'UPDATE "_prisma_migrations" SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1',
          [id],
        );
        await session.exec('COMMIT');
      } catch (error) {
        await session.exec('ROLLBACK').catch(() => {});
        throw new Error(
          `migration ${m.name} failed and was rolled back: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
      result.applied.push(m.name);
    }
    return result;
  } finally {
    await session.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK_ID]);
  }
}

// Prisma also accepts a checksum computed with the other line-ending convention.
function checksumMatches(sql: string, checksum: string): boolean {
  return [sql, sql.replaceAll('\r\n', '\n'), sql.replaceAll('\n', '\r\n')].some(
    (s) => migrationChecksum(s) === checksum,
  );
}
