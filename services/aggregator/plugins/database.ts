import type { FastifyInstance } from 'fastify';
import { openDatabase, parsePostgresUrl, type Database } from '../../../shared/db/index.ts';
import type { AggregatorConfig } from '../config.ts';
import { acquireInstanceLock, type InstanceLock } from '../lib/instance-lock.ts';

/**
 * The aggregator's database: `given` (tests, embedders; left open on close) or the one the
 * configuration names (PostgreSQL at DATABASE_URL, else PGlite under STATE_DIR), migrated on
 * open and closed with the app.
 *
 * On PostgreSQL the instance lock (lib/instance-lock.ts) is taken first, before any migration:
 * a second aggregator on the same database and schema throws InstanceLockError. PGlite has its
 * own lock file; a given database is the caller's business.
 */
export async function useDatabase(
  app: FastifyInstance,
  config: AggregatorConfig,
  given?: Database,
): Promise<{ db: Database; close: () => Promise<void> }> {
  if (given) return { db: given, close: async () => {} };
  const databaseUrl = config.databaseUrl?.trim();
  let lock: InstanceLock | undefined;
  if (databaseUrl) {
    const { connectionString, schema } = parsePostgresUrl(databaseUrl);
    lock = await acquireInstanceLock({ connectionString, schema, log: app.log });
  }
  let db: Database;
  try {
    db = await openDatabase({
      databaseUrl,
      stateDir: config.stateDir,
      warn: (message) => app.log.warn(message),
    });
  } catch (error) {
    await lock?.release();
    throw error;
  }
  app.log.info(
    { kind: db.kind, applied: db.migrations?.applied ?? [] },
    db.kind === 'pglite' ? 'embedded database (PGlite) opened' : 'PostgreSQL database opened',
  );
  return {
    db,
    close: async () => {
      try {
        await db.close();
      } finally {
        await lock?.release();
      }
    },
  };
}
