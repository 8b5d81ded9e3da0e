import type { FastifyInstance } from 'fastify';
import { openDatabase, type Database } from '../../../shared/db/index.ts';
import type { AggregatorConfig } from '../config.ts';

/**
 * The aggregator's database: `given` (tests, embedders; left open on close) or the one the
 * configuration names (PostgreSQL at DATABASE_URL, else PGlite under STATE_DIR), migrated on
 * open and closed with the app.
 */
export async function useDatabase(
  app: FastifyInstance,
  config: AggregatorConfig,
  given?: Database,
): Promise<{ db: Database; close: () => Promise<void> }> {
  if (given) return { db: given, close: async () => {} };
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    stateDir: config.stateDir,
    warn: (message) => app.log.warn(message),
  });
  app.log.info(
    { kind: db.kind, applied: db.migrations?.applied ?? [] },
    db.kind === 'pglite' ? 'embedded database (PGlite) opened' : 'PostgreSQL database opened',
  );
  return { db, close: db.close };
}
