// One aggregator per PostgreSQL database and schema. Two aggregators on the same tables would
// both resume the same runs, so at start the aggregator takes a PostgreSQL advisory lock on a
// connection of its own, held for as long as the process runs, and a second one refuses to
// start, naming the holder, or with STANDBY waits for the lock (plugins/role.ts).
//
// The lock is session-level: PostgreSQL releases it when the holding connection ends, however it
// ends. A crashed or killed aggregator (its socket closed by the kernel) does not block a
// restart; a host that vanished without closing its socket holds it until the server's TCP
// keepalives give the connection up (set to about a minute on this connection below).
//
// If the connection is lost while the aggregator runs (the server restarted, the backend was
// terminated), the lock is gone with it: that is logged as an error and the aggregator goes on
// without it. It does not try to take the lock again (a restart of the aggregator does).
//
// PGlite needs none of this: its data directory has a lock file of its own (shared/db).
import { hostname } from 'node:os';

import pg from 'pg';

import { redact } from '../../../shared/db/database.ts';
import { sleep } from '../../../shared/util/sleep.ts';

/** The aggregator's connections to PostgreSQL for the lock start with this application_name. */
export const INSTANCE_LOCK_APPLICATION = 'fedxray-aggregator';

/** PostgreSQL truncates application_name to 63 bytes. */
const MAX_APPLICATION_NAME = 63;

/** First key of the two-int4 advisory lock: this application (Prisma's lock is one bigint). */
const LOCK_CLASS = hash32(INSTANCE_LOCK_APPLICATION);

/** A second aggregator on the same database and schema: the message names the holder. */
export class InstanceLockError extends Error {
  override name = 'InstanceLockError';
}

export interface InstanceLockLog {
  info(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface InstanceLockOptions {
  /** postgres:// URL without `?schema=` (parsePostgresUrl's connectionString). */
  connectionString: string;
  /** The schema the aggregator's tables are in; undefined: public. */
  schema?: string;
  log: InstanceLockLog;
  /**
   * Wait for a held lock instead of refusing: `onStandby` is told who holds it, then the lock
   * is tried every `pollMs` until it is taken (the promise then resolves) or `signal` aborts.
   */
  standby?: { pollMs: number; signal: AbortSignal; onStandby(holder: string): void };
}

export interface InstanceLock {
  /** Unlocks and closes the lock's connection. Safe to call twice. */
  release(): Promise<void>;
}

/** The advisory lock keys (two signed int4) of the aggregator on `schema`. */
export function instanceLockKeys(schema: string | undefined): [number, number] {
  return [LOCK_CLASS, hash32(schema ?? 'public')];
}

/**
 * Takes the instance lock of the database and schema, or throws InstanceLockError naming the
 * aggregator that holds it (with `standby`: waits for it). Advisory locks are per database,
 * the second key is per schema.
 */
export async function acquireInstanceLock(opts: InstanceLockOptions): Promise<InstanceLock> {
  const schema = opts.schema ?? 'public';
  const where = `database ${redact(opts.connectionString)} (schema ${schema})`;
  const applicationName = instanceApplicationName();
  const client = new pg.Client({
    connectionString: opts.connectionString,
    application_name: applicationName,
    // The client notices a dead server; the settings below make the server notice a dead
    // client (and so release the lock) within about a minute.
    keepAlive: true,
    keepAliveInitialDelayMillis: 30_000,
  });
  let released = false;
  let lost = false;
  client.on('error', (error: Error) => {
    // Without this listener a lost connection would crash the process.
    if (released || lost) return;
    lost = true;
    opts.log.error(
      { err: error, schema },
      'the instance lock was lost (its database connection dropped): another aggregator could ' +
        'now start on this database; restart this one to take the lock again',
    );
  });
  await client.connect().catch((error: Error) => {
    throw new Error(
      `cannot connect to PostgreSQL at ${redact(opts.connectionString)}: ${error.message}`,
      { cause: error },
    );
  });
  try {
    // Per session, set here rather than as startup options (poolers may refuse those); where a
    // server refuses one (tcp_keepalives_count on Windows), its default stays.
    for (const setting of ['idle = 30', 'interval = 10', 'count = 3']) {
      await client.query(`SET tcp_keepalives_${setting}`).catch(() => {});
    }
    const [classKey, schemaKey] = instanceLockKeys(opts.schema);
    const tryLock = async (): Promise<boolean> => {
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1::int4, $2::int4) AS locked',
        [classKey, schemaKey],
      );
      return rows[0]?.locked === true;
    };
    if (!(await tryLock())) {
      const holder = await describeHolder(client, classKey, schemaKey);
      const standby = opts.standby;
      if (!standby) {
        throw new InstanceLockError(
          `another aggregator already uses the ${where}: its instance lock is held by ${holder}. ` +
            'Two aggregators on one database would both resume the same runs. Stop the other ' +
            'aggregator, give this one another DATABASE_URL (another database, or another ' +
            '?schema=NAME), or start it as a standby (STANDBY=true). The lock is released when ' +
            "the holder's database connection ends, so an aggregator that crashed does not " +
            'block a restart.',
        );
      }
      standby.onStandby(holder);
      // The holder's session ends when it dies (its socket closed, or the keepalives below
      // give it up): the next try then takes the lock.
      do await sleep(standby.pollMs, standby.signal);
      while (!(await tryLock()));
    }
  } catch (error) {
    released = true;
    await client.end().catch(() => {});
    throw error;
  }
  opts.log.info(
    { schema, applicationName },
    `instance lock taken: no other aggregator can start on this ${where}`,
  );
  let done: Promise<void> | undefined;
  return {
    release: () =>
      (done ??= (async () => {
        released = true;
        // The lock goes with the session anyway; the unlock just says so first.
        if (!lost) {
          await client
            .query('SELECT pg_advisory_unlock($1::int4, $2::int4)', instanceLockKeys(opts.schema))
            .catch(() => {});
        }
        await client.end().catch(() => {});
      })()),
  };
}

/** `fedxray-aggregator pid=… host=… since=…`, cut to what PostgreSQL keeps (ASCII only). */
function instanceApplicationName(): string {
  const host = hostname().replace(/[^\x21-\x7e]/g, '?');
  const since = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const name = `${INSTANCE_LOCK_APPLICATION} pid=${process.pid} host=${host}`;
  const full = `${name} since=${since}`;
  // The host matters more than the time (the lock's backend_start tells it as well).
  return (full.length <= MAX_APPLICATION_NAME ? full : name).slice(0, MAX_APPLICATION_NAME);
}

/** Who holds the lock, from pg_locks and pg_stat_activity (what this role may see of it). */
async function describeHolder(
  client: pg.Client,
  classKey: number,
  schemaKey: number,
): Promise<string> {
  const { rows } = await client.query<{
    pid: number;
    application_name: string | null;
    client_addr: string | null;
    backend_start: Date | null;
  }>(
    `SELECT l.pid, a.application_name, host(a.client_addr) AS client_addr, a.backend_start
       FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid = $1::int4::oid AND l.objid = $2::int4::oid AND l.objsubid = 2
      LIMIT 1`,
    [classKey, schemaKey],
  );
  const row = rows[0];
  if (!row) return 'a session that has just let it go (try again)';
  const details = [`PostgreSQL backend pid ${row.pid}`];
  if (row.client_addr) details.push(`connected from ${row.client_addr}`);
  if (row.backend_start) details.push(`since ${row.backend_start.toISOString()}`);
  const name = row.application_name ? `"${row.application_name}"` : 'a session';
  return `${name} (${details.join(', ')})`;
}

/** FNV-1a of the string's UTF-8 bytes, as a signed 32-bit integer (an int4 lock key). */
function hash32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}
