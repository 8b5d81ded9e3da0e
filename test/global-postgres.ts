// vitest globalSetup: the database tests need a PostgreSQL server. When none answers at
// FEDXRAY_TEST_POSTGRES_URL (default 127.0.0.1:5432), one of the tests' own is started
// (initdb into a temp dir, a free port; Debian's server binaries) for the whole run and the
// variable points the test processes at it. CI and most developers keep using their server.
import pg from 'pg';
import { TEST_POSTGRES_ADMIN_URL } from '../shared/db/testing.ts';
import { postgresBinDir, PrivatePostgres } from './helpers/private-postgres.ts';

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (await answers(TEST_POSTGRES_ADMIN_URL)) return undefined;
  if (!postgresBinDir()) {
    process.stderr.write(
      `[tests] no PostgreSQL answers at ${TEST_POSTGRES_ADMIN_URL} and no server binaries are installed (apt-get install postgresql): the PostgreSQL halves of the database tests will fail\n`,
    );
    return undefined;
  }
  const server = await PrivatePostgres.start();
  process.env.FEDXRAY_TEST_POSTGRES_URL = server.url;
  process.stderr.write(
    `[tests] no PostgreSQL answered at ${TEST_POSTGRES_ADMIN_URL}: started the tests' own at ${server.url}\n`,
  );
  return () => server.destroy();
}
