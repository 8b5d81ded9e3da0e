import type { FastifyInstance } from 'fastify';
import { openDatabase, parsePostgresUrl, type Database } from '../../../shared/db/index.ts';
import { STANDBY_POLL_DEFAULT_SECONDS, type AggregatorConfig } from '../config.ts';
import { acquireInstanceLock, type InstanceLock } from '../lib/instance-lock.ts';

/**
 * The aggregator's database: `given` (tests, embedders; left open on close) or the one the
 * configuration names (PostgreSQL at DATABASE_URL, else PGlite under STATE_DIR), migrated on
 * open and closed with the app.
 *
 * On PostgreSQL the instance lock (lib/instance-lock.ts) is taken first, before any migration:
 * a second aggregator on the same database and schema throws InstanceLockError, or with
 * STANDBY opens the database without it and `takeover` resolves once it holds the lock.
 * PGlite has its own lock file; a given database is the caller's business.
 */
export async function useDatabase(
  app: FastifyInstance,
  config: AggregatorConfig,
  given?: Database,
): Promise<{ db: Database; close: () => Promise<void>; takeover: Promise<void> | null }> {
  if (given) return { db: given, close: async () => {}, takeover: null };
  const databaseUrl = config.databaseUrl?.trim();
  let lock: InstanceLock | undefined;
  let takeover: Promise<void> | null = null;
  const stopWaiting = new AbortController();
  if (databaseUrl) {
    const { connectionString, schema } = parsePostgresUrl(databaseUrl);
    let standingBy: () => void = () => {};
    const waiting = new Promise<null>((resolve) => (standingBy = () => resolve(null)));
    const locking = acquireInstanceLock({
      connectionString,
      schema,
      log: app.log,
      standby: config.standby
        ? {
            pollMs: (config.standbyPollSeconds ?? STANDBY_POLL_DEFAULT_SECONDS) * 1000,
            signal: stopWaiting.signal,
            onStandby: (holder) => {
              app.log.warn(
                { holder },
                `standby: another aggregator holds the instance lock (${holder}); serving the read routes and taking over when it is gone`,
              );
              standingBy();
            },
          }
        : undefined,
    });
    const first = await Promise.race([locking, waiting]);
    if (first) lock = first;
    else {
      takeover = locking.then((taken) => {
        lock = taken;
      });
      // A standby closed before it took over: its wait ends with the abort, nothing to report.
      takeover.catch(() => {});
    }
  }
  const release = async (): Promise<void> => {
    stopWaiting.abort(new Error('the aggregator is closing'));
    await takeover?.catch(() => {});
    await lock?.release();
  };
  let db: Database;
  try {
    db = await openDatabase({
      databaseUrl,
      stateDir: config.stateDir,
      warn: (message) => app.log.warn(message),
    });
  } catch (error) {
    await release();
    throw error;
  }
  app.log.info(
    { kind: db.kind, applied: db.migrations?.applied ?? [] },
    db.kind === 'pglite' ? 'embedded database (PGlite) opened' : 'PostgreSQL database opened',
  );
  return {
    db,
    takeover,
    close: async () => {
      try {
        await db.close();
      } finally {
        await release();
      }
    },
  };
}
