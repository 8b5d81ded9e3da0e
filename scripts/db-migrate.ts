// Creates a new migration from the changes in prisma/schema.prisma: the offline equivalent of
// `prisma migrate dev --create-only --name NAME`, which needs Prisma's native schema engine.
//
//   npm run db:migration -- NAME        write prisma/migrations/<timestamp>_NAME/migration.sql
//   npm run db:migration -- --check     exit 1 if schema.prisma has changes without a migration
//
// How: Prisma's schema engine (wasm) replays the existing migrations on a throwaway in-memory
// PGlite (its shadow database) and diffs the result against the schema. Nothing else is
// touched: migrations are applied by openDatabase() at start (shared/db/database.ts).
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';

import { PGlite } from '@electric-sql/pglite';

import { MIGRATIONS_DIR } from '../shared/db/migrate.ts';
import {
  MIGRATION_LOCK_TOML,
  NO_FILTER,
  openSchemaEngine,
  pgliteEngineAdapter,
  readMigrationsList,
  readSchemaFiles,
} from '../shared/db/schema-engine.ts';

/** Prisma's migration directory prefix: the UTC time as YYYYMMDDHHMMSS. */
function timestamp(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

function usage(): never {
  console.error('usage: npm run db:migration -- <name>   |   npm run db:migration -- --check');
  process.exit(2);
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const name = args.find((a) => !a.startsWith('-'));
  if (!check && !name) usage();
  if (name && !/^[A-Za-z0-9_]+$/.test(name)) {
    console.error(`migration name must be letters, digits and _ (got "${name}")`);
    return 2;
  }

  const db = await PGlite.create();
  const adapter = pgliteEngineAdapter(db, { mainIsShadow: true });
  try {
    const engine = await openSchemaEngine(adapter, undefined, (line) => {
      if (process.env.DEBUG) console.error(line);
    });
    // `diff` from the migrations to the schema: the engine replays the migrations on a shadow
    // database (the throwaway in-memory PGlite above, through the adapter) and diffs the result against
    // schema.prisma. (createMigration, what `migrate dev` uses, only works after the engine
    // has cached that shadow schema during an earlier devDiagnostic on an up-to-date database.)
    const schema = readSchemaFiles();
    const diff = await engine.diff({
      from: { tag: 'migrations', ...readMigrationsList() },
      to: { tag: 'schemaDatamodel', ...schema },
      script: true,
      exitCode: true,
      filters: NO_FILTER,
    });
    engine.free();
    if (diff.exitCode === 0) {
      console.log('prisma/schema.prisma and prisma/migrations are in sync: no migration needed.');
      return 0;
    }
    const script = diff.stdout ?? '';
    if (check) {
      console.error('prisma/schema.prisma has changes that no migration covers:\n');
      console.error(script);
      console.error('\nrun: npm run db:migration -- <name>');
      return 1;
    }
    const dir = path.join(MIGRATIONS_DIR, `${timestamp(new Date())}_${name}`);
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'migration.sql');
    writeFileSync(file, script);
    const lock = path.join(MIGRATIONS_DIR, 'migration_lock.toml');
    if (!existsSync(lock)) writeFileSync(lock, MIGRATION_LOCK_TOML);
    console.log(`wrote ${path.relative(process.cwd(), file)}`);
    console.log('review it; it is applied automatically the next time the database is opened.');
    return 0;
  } finally {
    await adapter.close();
    await db.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
