// The database layer against both engines it supports: an in-process PGlite and the
// PostgreSQL server at 127.0.0.1:5432 (FEDXRAY_TEST_POSTGRES_URL to change it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openDatabase, Prisma, type Database } from '../../shared/db/index.ts';
import { migrationChecksum, readMigrations } from '../../shared/db/migrate.ts';
import {
  createTestDatabase,
  listTestDatabases,
  TEST_DATABASE_PREFIX,
  type TestDatabase,
} from '../../shared/db/testing.ts';

const migrations = readMigrations();

function prismaCode(error: unknown): string | undefined {
  return error instanceof Prisma.PrismaClientKnownRequestError ? error.code : undefined;
}

async function seed(db: Database, tag: string) {
  const hospital = await db.prisma.hospital.create({
    data: { name: `h-${tag}`, baseUrl: `http://127.0.0.1:9000/${tag}`, tokenHash: 'scrypt$abc' },
  });
  const run = await db.prisma.trainingRun.create({
    data: {
      settings: { architecture: 'se-resnet18-gn', inputSize: 64, rounds: 3, clientFraction: 1 },
    },
  });
  const round = await db.prisma.round.create({
    data: { runId: run.id, index: 0, selectedHospitalIds: [hospital.id] },
  });
  return { hospital, run, round };
}

describe.each(['pglite', 'postgres'] as const)('database on %s', (kind) => {
  let t: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    t = await createTestDatabase(kind);
    db = t.db;
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('has every migration applied and recorded as Prisma records it', async () => {
    expect(migrations.length).toBeGreaterThan(0);
    expect(db.kind).toBe(kind);
    const rows = await db.prisma.$queryRaw<
      {
        migration_name: string;
        checksum: string;
        finished_at: Date | null;
        rolled_back_at: Date | null;
        applied_steps_count: number;
        logs: string | null;
      }[]
    >`SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count, logs
      FROM "_prisma_migrations" ORDER BY migration_name`;
    expect(rows.map((r) => r.migration_name)).toEqual(migrations.map((m) => m.name));
    for (const [i, r] of rows.entries()) {
      expect(r.checksum).toBe(migrations[i].checksum);
      expect(r.checksum).toBe(migrationChecksum(migrations[i].sql));
      expect(r.finished_at).toBeInstanceOf(Date);
      expect(r.rolled_back_at).toBeNull();
      expect(r.logs).toBeNull();
      expect(r.applied_steps_count).toBe(1);
    }
    // Opening applied nothing more (the PGlite clone comes from a migrated template; the
    // PostgreSQL database was migrated by createTestDatabase's own open).
    if (kind === 'pglite') expect(db.migrations?.applied).toEqual([]);
    else expect(db.migrations?.applied).toEqual(migrations.map((m) => m.name));
    expect(db.migrations?.edited).toEqual([]);
  });

  it('creates and reads every model, with Json, String[], enums and relations', async () => {
    const { hospital, run, round } = await seed(db, 'models');
    expect(hospital.status).toBe('active');
    expect(hospital.sampleCount).toBeNull();
    expect(hospital.tokenRotatedAt).toBeInstanceOf(Date);
    expect(run.status).toBe('pending');
    expect(run.currentRound).toBe(0);
    expect(run.promoteOnFinish).toBe(false);

    const model = await db.prisma.modelVersion.create({
      data: {
        sha256: 'a'.repeat(64),
        sizeBytes: 45_041_384,
        architecture: 'se-resnet18-gn',
        inputSize: 64,
        metadata: { preprocessing: { equalize: true, mean: [0.5] }, threshold: 0.5, note: null },
        storagePath: `models/${'a'.repeat(64)}.bin`,
      },
    });
    expect(model.runId).toBeNull();
    expect(model.stage).toBe('candidate');
    const second = await db.prisma.modelVersion.create({
      data: {
        runId: run.id,
        roundIndex: 0,
        sha256: 'b'.repeat(64),
        sizeBytes: 1,
        architecture: 'se-resnet18-gn',
        inputSize: 64,
        metadata: {},
        metrics: { auc: 0.97, accuracy: 0.88 },
        stage: 'production',
        storagePath: 'models/b',
      },
    });
    expect(second.version).toBeGreaterThan(model.version);

    const deadline = new Date('2030-01-02T03:04:05.678Z');
    await db.prisma.round.update({
      where: { id: round.id },
      data: {
        status: 'dispatched',
        deadlineAt: deadline,
        inputModelId: model.id,
        outputModelId: second.id,
      },
    });
    const update = await db.prisma.clientUpdate.create({
      data: {
        roundId: round.id,
        hospitalId: hospital.id,
        status: 'timed_out',
        numSamples: 1234,
        metrics: { loss: [0.7, 0.5, 0.41], accuracy: 0.9 },
        jobId: 'job-1',
      },
    });
    expect(update.updatedAt).toBeInstanceOf(Date);
    await db.prisma.weightDownload.create({
      data: { hospitalId: hospital.id, modelVersionId: model.id, runId: run.id },
    });
    await db.prisma.auditEvent.create({
      data: {
        actor: `hospital:${hospital.id}`,
        action: 'weights.download',
        subjectType: 'ModelVersion',
        subjectId: model.id,
        details: { bytes: 45_041_384 },
      },
    });

    const read = await db.prisma.trainingRun.findUniqueOrThrow({
      where: { id: run.id },
      include: {
        rounds: {
          include: {
            clientUpdates: { include: { hospital: true } },
            inputModel: true,
            outputModel: true,
          },
        },
        modelVersions: true,
        weightDownloads: true,
      },
    });
    expect(read.settings).toEqual({
      architecture: 'se-resnet18-gn',
      inputSize: 64,
      rounds: 3,
      clientFraction: 1,
    });
    const r0 = read.rounds[0];
    expect(r0.status).toBe('dispatched');
    expect(r0.selectedHospitalIds).toEqual([hospital.id]);
    expect(r0.deadlineAt?.toISOString()).toBe(deadline.toISOString());
    expect(r0.inputModel?.metadata).toEqual({
      preprocessing: { equalize: true, mean: [0.5] },
      threshold: 0.5,
      note: null,
    });
    expect(r0.outputModel?.metrics).toEqual({ auc: 0.97, accuracy: 0.88 });
    expect(r0.clientUpdates).toHaveLength(1);
    expect(r0.clientUpdates[0].status).toBe('timed_out');
    expect(r0.clientUpdates[0].metrics).toEqual({ loss: [0.7, 0.5, 0.41], accuracy: 0.9 });
    expect(r0.clientUpdates[0].hospital.name).toBe('h-models');
    expect(read.modelVersions.map((m) => m.id)).toEqual([second.id]);
    expect(read.weightDownloads).toHaveLength(1);

    expect(
      await db.prisma.weightDownload.count({ where: { hospitalId: hospital.id, runId: run.id } }),
    ).toBe(1);
    const events = await db.prisma.auditEvent.findMany({
      where: { subjectType: 'ModelVersion', subjectId: model.id },
    });
    expect(events).toHaveLength(1);
    expect(events[0].details).toEqual({ bytes: 45_041_384 });
    expect(events[0].at).toBeInstanceOf(Date);

    // String[] filters work on both engines.
    expect(
      await db.prisma.round.count({ where: { selectedHospitalIds: { has: hospital.id } } }),
    ).toBe(1);
  });

  it('enforces unique constraints (hospital name, model sha256, one update per round and hospital)', async () => {
    const { hospital, round } = await seed(db, 'unique');
    const dup = await db.prisma.hospital
      .create({ data: { name: 'h-unique', baseUrl: 'http://x', tokenHash: 'x' } })
      .catch((e: unknown) => e);
    expect(prismaCode(dup)).toBe('P2002');

    await db.prisma.clientUpdate.create({ data: { roundId: round.id, hospitalId: hospital.id } });
    const second = await db.prisma.clientUpdate
      .create({ data: { roundId: round.id, hospitalId: hospital.id, status: 'training' } })
      .catch((e: unknown) => e);
    expect(prismaCode(second)).toBe('P2002');
    expect(await db.prisma.clientUpdate.count({ where: { roundId: round.id } })).toBe(1);

    const dupRound = await db.prisma.round
      .create({ data: { runId: round.runId, index: 0 } })
      .catch((e: unknown) => e);
    expect(prismaCode(dupRound)).toBe('P2002');

    const mv = { sizeBytes: 1, architecture: 'x', inputSize: 1, metadata: {}, storagePath: 'p' };
    await db.prisma.modelVersion.create({ data: { ...mv, sha256: 'c'.repeat(64) } });
    const dupModel = await db.prisma.modelVersion
      .create({ data: { ...mv, sha256: 'c'.repeat(64) } })
      .catch((e: unknown) => e);
    expect(prismaCode(dupModel)).toBe('P2002');
  });

  it('rejects values outside an enum', async () => {
    const bad = await db.prisma
      .$executeRawUnsafe(
        `INSERT INTO "Hospital" (id, name, "baseUrl", "tokenHash", status) VALUES ('x', 'h-enum', 'u', 't', 'paused')`,
      )
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(Error);
    expect(await db.prisma.hospital.count({ where: { name: 'h-enum' } })).toBe(0);
  });

  it('keeps history: a hospital with client updates cannot be deleted; deleting a run cascades', async () => {
    const { hospital, run, round } = await seed(db, 'relations');
    await db.prisma.clientUpdate.create({ data: { roundId: round.id, hospitalId: hospital.id } });
    const model = await db.prisma.modelVersion.create({
      data: {
        runId: run.id,
        sha256: 'd'.repeat(64),
        sizeBytes: 1,
        architecture: 'x',
        inputSize: 1,
        metadata: {},
        storagePath: 'p',
      },
    });
    const del = await db.prisma.hospital
      .delete({ where: { id: hospital.id } })
      .catch((e: unknown) => e);
    expect(prismaCode(del)).toBe('P2003');

    await db.prisma.trainingRun.delete({ where: { id: run.id } });
    expect(await db.prisma.round.count({ where: { runId: run.id } })).toBe(0);
    expect(await db.prisma.clientUpdate.count({ where: { hospitalId: hospital.id } })).toBe(0);
    expect(
      (await db.prisma.modelVersion.findUniqueOrThrow({ where: { id: model.id } })).runId,
    ).toBeNull();
    await db.prisma.hospital.delete({ where: { id: hospital.id } });
  });

  it('rolls back an interactive transaction that throws, and commits one that returns', async () => {
    const before = await db.prisma.hospital.count();
    const error = await db.prisma
      .$transaction(async (tx) => {
        await tx.hospital.create({ data: { name: 'h-tx-rollback', baseUrl: 'u', tokenHash: 't' } });
        await tx.auditEvent.create({ data: { actor: 'system', action: 'tx.test' } });
        expect(await tx.hospital.count()).toBe(before + 1);
        throw new Error('abort');
      })
      .catch((e: unknown) => e);
    expect((error as Error).message).toBe('abort');
    expect(await db.prisma.hospital.count()).toBe(before);
    expect(await db.prisma.auditEvent.count({ where: { action: 'tx.test' } })).toBe(0);

    // A constraint violation inside the transaction rolls back the earlier writes too.
    const violation = await db.prisma
      .$transaction(async (tx) => {
        await tx.hospital.create({ data: { name: 'h-tx-dup', baseUrl: 'u', tokenHash: 't' } });
        await tx.hospital.create({ data: { name: 'h-tx-dup', baseUrl: 'u', tokenHash: 't' } });
      })
      .catch((e: unknown) => e);
    expect(prismaCode(violation)).toBe('P2002');
    expect(await db.prisma.hospital.count({ where: { name: 'h-tx-dup' } })).toBe(0);

    const created = await db.prisma.$transaction(async (tx) => {
      const h = await tx.hospital.create({
        data: { name: 'h-tx-commit', baseUrl: 'u', tokenHash: 't' },
      });
      await tx.auditEvent.create({
        data: {
          actor: 'admin',
          action: 'hospital.create',
          subjectType: 'Hospital',
          subjectId: h.id,
        },
      });
      return h;
    });
    expect(await db.prisma.hospital.findUnique({ where: { id: created.id } })).not.toBeNull();
    expect(await db.prisma.auditEvent.count({ where: { subjectId: created.id } })).toBe(1);
  });

  if (kind === 'postgres') {
    it('opening the same database again applies nothing', async () => {
      const again = await openDatabase({ databaseUrl: t.databaseUrl, stateDir: '/nonexistent' });
      try {
        expect(again.migrations).toEqual({ applied: [], edited: [], unknown: [] });
        expect(await again.prisma.hospital.count()).toBe(await db.prisma.hospital.count());
      } finally {
        await again.close();
      }
    });

    it('isolates a database in the schema named by ?schema=, creating and migrating it', async () => {
      const url = new URL(t.databaseUrl!);
      url.searchParams.set('schema', 'tenant_a');
      const inSchema = await openDatabase({
        databaseUrl: url.toString(),
        stateDir: '/nonexistent',
      });
      try {
        expect(inSchema.migrations?.applied).toEqual(migrations.map((m) => m.name));
        await inSchema.prisma.hospital.create({
          data: { name: 'only-in-tenant-a', baseUrl: 'u', tokenHash: 't' },
        });
        const tables = await inSchema.prisma.$queryRaw<{ table_schema: string }[]>`
          SELECT table_schema FROM information_schema.tables WHERE table_name = 'Hospital' ORDER BY 1`;
        expect(tables.map((r) => r.table_schema)).toEqual(['public', 'tenant_a']);
        expect(await inSchema.prisma.hospital.count()).toBe(1);
        expect(await db.prisma.hospital.count({ where: { name: 'only-in-tenant-a' } })).toBe(0);
      } finally {
        await inSchema.close();
      }
    });

    it('migrates once when several processes open the same new schema at once', async () => {
      const url = new URL(t.databaseUrl!);
      url.searchParams.set('schema', 'concurrent');
      const opened = await Promise.all(
        [1, 2, 3].map(() =>
          openDatabase({ databaseUrl: url.toString(), stateDir: '/nonexistent' }),
        ),
      );
      try {
        const applied = opened.map((o) => o.migrations?.applied.length);
        expect(applied.sort()).toEqual([0, 0, migrations.length]);
        const rows = await opened[0].prisma.$queryRaw<{ n: bigint }[]>`
          SELECT count(*) AS n FROM "concurrent"."_prisma_migrations"`;
        expect(Number(rows[0].n)).toBe(migrations.length);
      } finally {
        await Promise.all(opened.map((o) => o.close()));
      }
    });

    it('rejects a schema name it cannot pass safely', async () => {
      const url = new URL(t.databaseUrl!);
      url.searchParams.set('schema', 'Bad-Name');
      await expect(openDatabase({ databaseUrl: url.toString(), stateDir: '/x' })).rejects.toThrow(
        /schema name/,
      );
    });

    it('drops its test database on cleanup', async () => {
      const extra = await createTestDatabase('postgres');
      const name = new URL(extra.databaseUrl!).pathname.slice(1);
      expect(name.startsWith(TEST_DATABASE_PREFIX)).toBe(true);
      expect(await listTestDatabases()).toContain(name);
      await extra.cleanup();
      await extra.cleanup(); // twice is fine
      expect(await listTestDatabases()).not.toContain(name);
    });
  }
});

afterAll(async () => {
  // Every PostgreSQL database this process created is gone (the describe's cleanup ran first).
  const mine = (await listTestDatabases()).filter((n) =>
    n.startsWith(`${TEST_DATABASE_PREFIX}${process.pid}_`),
  );
  expect(mine).toEqual([]);
});
