// The embedded database in a state directory: created and migrated on first open, data kept
// across reopen, one process (and one open) at a time.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openDatabase } from '../../shared/db/index.ts';
import { readMigrations } from '../../shared/db/migrate.ts';

describe('PGlite in a state directory', () => {
  let stateDir: string;
  const lockPath = () => path.join(stateDir, 'pglite.lock');
  const children: ChildProcess[] = [];

  beforeAll(() => {
    stateDir = mkdtempSync(path.join(tmpdir(), 'fedxray-db-'));
  });
  afterAll(() => {
    for (const c of children) c.kill();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('migrates an empty directory, keeps data across reopen, and migrates nothing the second time', async () => {
    const t0 = performance.now();
    const first = await openDatabase({ stateDir });
    const tFirst = performance.now() - t0;
    try {
      expect(first.kind).toBe('pglite');
      expect(first.migrations?.applied).toEqual(readMigrations().map((m) => m.name));
      expect(readFileSync(lockPath(), 'utf8').trim()).toBe(String(process.pid));
      await first.prisma.hospital.create({
        data: { name: 'kept', baseUrl: 'http://127.0.0.1:1', tokenHash: 'x', sampleCount: 42 },
      });
      await first.prisma.trainingRun.create({
        data: { settings: { rounds: 2 }, status: 'running' },
      });
    } finally {
      await first.close();
    }
    expect(existsSync(lockPath())).toBe(false);

    const t1 = performance.now();
    const second = await openDatabase({ stateDir });
    const tSecond = performance.now() - t1;
    try {
      expect(second.migrations).toEqual({ applied: [], edited: [], unknown: [] });
      const h = await second.prisma.hospital.findUniqueOrThrow({ where: { name: 'kept' } });
      expect(h.sampleCount).toBe(42);
      const run = await second.prisma.trainingRun.findFirstOrThrow();
      expect(run.settings).toEqual({ rounds: 2 });
      expect(run.status).toBe('running');
    } finally {
      await second.close();
    }
    console.log(
      `PGlite open: new directory ${tFirst.toFixed(0)} ms, reopen ${tSecond.toFixed(0)} ms`,
    );
  });

  it('refuses a second open of the same directory in this process', async () => {
    const db = await openDatabase({ stateDir });
    try {
      await expect(openDatabase({ stateDir })).rejects.toThrow(/already open in this process/);
      // The failed attempt did not release the first open's lock.
      expect(readFileSync(lockPath(), 'utf8').trim()).toBe(String(process.pid));
      expect(await db.prisma.hospital.count()).toBe(1);
    } finally {
      await db.close();
    }
  });

  it('refuses a directory locked by another live process, and takes over a stale lock', async () => {
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], {
      stdio: 'ignore',
    });
    children.push(other);
    writeFileSync(lockPath(), `${other.pid}\n`);
    await expect(openDatabase({ stateDir })).rejects.toThrow(
      new RegExp(`in use by another process \\(pid ${other.pid}\\)`),
    );
    expect(readFileSync(lockPath(), 'utf8').trim()).toBe(String(other.pid));

    other.kill();
    await new Promise((resolve) => other.once('exit', resolve));
    const db = await openDatabase({ stateDir });
    try {
      expect(readFileSync(lockPath(), 'utf8').trim()).toBe(String(process.pid));
      expect(await db.prisma.hospital.count()).toBe(1);
    } finally {
      await db.close();
    }
  });
});
