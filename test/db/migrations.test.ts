// The migrations against Prisma's own schema engine (wasm): prisma/migrations must produce
// exactly prisma/schema.prisma, and shared/db/migrate.ts must leave a database in the state
// `prisma migrate deploy` would.
import { readFileSync } from 'node:fs';

import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { pgliteSession } from '../../shared/db/database.ts';
import {
  applyMigrations,
  migrationChecksum,
  readMigrations,
  type MigrationFile,
} from '../../shared/db/migrate.ts';
import {
  NO_FILTER,
  openSchemaEngine,
  pgliteEngineAdapter,
  readMigrationsList,
  readSchemaFiles,
  SCHEMA_PATH,
  type SchemaEngine,
} from '../../shared/db/schema-engine.ts';
import { pgliteTemplate } from '../../shared/db/testing.ts';

const COLUMNS = `SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default,
  character_maximum_length FROM information_schema.columns WHERE table_schema = 'public'
  ORDER BY table_name, ordinal_position`;
const INDEXES = `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
  ORDER BY tablename, indexname`;
const HISTORY = `SELECT migration_name, checksum, logs, rolled_back_at, applied_steps_count,
  finished_at IS NOT NULL AS finished FROM "_prisma_migrations" ORDER BY migration_name`;

describe('migrations and the Prisma schema engine', () => {
  const migrations = readMigrations();
  let byEngine: PGlite;
  let byUs: PGlite;
  let engineOnOurs: SchemaEngine;
  const adapters: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    // Same empty start for both: a clone of the template before its migrations is not
    // available, so build one plain database for the engine and clone ours from the template
    // (which shared/db/migrate.ts migrated).
    byEngine = await PGlite.create();
    byUs = await PGlite.create({ loadDataDir: await pgliteTemplate() });
    const ours = pgliteEngineAdapter(byUs);
    adapters.push(ours);
    engineOnOurs = await openSchemaEngine(ours);
  });
  afterAll(async () => {
    engineOnOurs?.free();
    for (const a of adapters) await a.close();
    await byEngine?.close();
    await byUs?.close();
  });

  it('prisma/migrations produce exactly prisma/schema.prisma (run npm run db:migration -- NAME if not)', async () => {
    const diff = await engineOnOurs.diff({
      from: { tag: 'migrations', ...readMigrationsList() },
      to: {
        tag: 'schemaDatamodel',
        files: [{ path: SCHEMA_PATH, content: readFileSync(SCHEMA_PATH, 'utf8') }],
      },
      script: true,
      exitCode: true,
      filters: NO_FILTER,
    });
    expect(diff.stdout?.trim()).toBe('-- This is an empty migration.');
    expect(diff.exitCode).toBe(0);
  });

  it('leaves the same tables, indexes and _prisma_migrations rows as the engine', async () => {
    const adapter = pgliteEngineAdapter(byEngine);
    adapters.push(adapter);
    const engine = await openSchemaEngine(adapter, readSchemaFiles());
    try {
      const out = await engine.applyMigrations({
        migrationsList: readMigrationsList(),
        filters: NO_FILTER,
      });
      expect(out.appliedMigrationNames).toEqual(migrations.map((m) => m.name));
    } finally {
      engine.free();
    }
    for (const sql of [COLUMNS, INDEXES, HISTORY]) {
      expect((await byUs.query(sql)).rows).toEqual((await byEngine.query(sql)).rows);
    }
    const ids = (await byUs.query<{ id: string }>('SELECT id FROM "_prisma_migrations"')).rows;
    for (const { id } of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('the engine sees our database as up to date, with nothing edited or failed', async () => {
    const diagnosis = await engineOnOurs.diagnoseMigrationHistory({
      migrationsList: readMigrationsList(),
      optInToShadowDatabase: false,
      filters: NO_FILTER,
    });
    expect(diagnosis).toEqual({
      editedMigrationNames: [],
      failedMigrationNames: [],
      hasMigrationsTable: true,
      history: null,
    });
    const again = await engineOnOurs.applyMigrations({
      migrationsList: readMigrationsList(),
      filters: NO_FILTER,
    });
    expect(again.appliedMigrationNames).toEqual([]);
  });

  it('rolls back a failing migration completely and records nothing for it', async () => {
    const db = await PGlite.create({ loadDataDir: await pgliteTemplate() });
    try {
      const broken: MigrationFile = {
        name: '99999999999999_broken',
        sql: 'CREATE TABLE "Half" ("id" TEXT PRIMARY KEY);\nALTER TABLE "Nope" ADD COLUMN "x" INTEGER;\n',
        checksum: 'f'.repeat(64),
      };
      await expect(applyMigrations(pgliteSession(db), [...migrations, broken])).rejects.toThrow(
        /migration 99999999999999_broken failed and was rolled back: .*"Nope"/,
      );
      const names = (
        await db.query<{ migration_name: string }>(
          'SELECT migration_name FROM "_prisma_migrations"',
        )
      ).rows;
      expect(names.map((r) => r.migration_name)).toEqual(migrations.map((m) => m.name));
      expect(
        (await db.query(`SELECT 1 FROM information_schema.tables WHERE table_name = 'Half'`)).rows,
      ).toEqual([]);

      // Fixed, it applies; an applied migration edited afterwards is reported, not re-run.
      const fixedSql = 'CREATE TABLE "Half" ("id" TEXT PRIMARY KEY);\n';
      const fixed = { ...broken, sql: fixedSql, checksum: migrationChecksum(fixedSql) };
      expect((await applyMigrations(pgliteSession(db), [...migrations, fixed])).applied).toEqual([
        fixed.name,
      ]);
      const edited = { ...migrations[0], sql: `${migrations[0].sql}\n-- edited\n` };
      const result = await applyMigrations(pgliteSession(db), [
        edited,
        ...migrations.slice(1),
        fixed,
      ]);
      expect(result).toEqual({ applied: [], edited: [migrations[0].name], unknown: [] });
      // A CRLF checkout of the same file still matches, as in Prisma.
      const crlf = { ...migrations[0], sql: migrations[0].sql.replaceAll('\n', '\r\n') };
      expect(
        (await applyMigrations(pgliteSession(db), [crlf, ...migrations.slice(1), fixed])).edited,
      ).toEqual([]);
      // Migrations in the database that this code does not have are reported.
      expect((await applyMigrations(pgliteSession(db), migrations)).unknown).toEqual([fixed.name]);
    } finally {
      await db.close();
    }
  });

  it('refuses to go on over a failed migration left by another tool', async () => {
    const db = await PGlite.create({ loadDataDir: await pgliteTemplate() });
    try {
      await db.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, logs) VALUES ('x', 'y', '20990101000000_failed', 'boom')`,
      );
      await expect(applyMigrations(pgliteSession(db), migrations)).rejects.toThrow(
        /failed migrations \(20990101000000_failed\)/,
      );
    } finally {
      await db.close();
    }
  });
});
