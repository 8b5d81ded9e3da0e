import pLimit from 'p-limit';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { JobViewSchema } from '../schemas/job.ts';

const StoredJobSchema = Type.Object({
  view: JobViewSchema,
  key: Type.String(),
  fingerprint: Type.String(),
});
export type StoredJob = Static<typeof StoredJobSchema>;
const StoredJobsSchema = Type.Array(StoredJobSchema);

/**
 * The job history in STATE_DIR/jobs.json, so a restarted node still knows which rounds it
 * has already answered (and an operator can see what was sent). Written atomically.
 */
export class JobStore {
  /** One at a time, in arrival order. */
  private readonly writes = pLimit(1);
  readonly file: string;

  constructor(stateDir: string) {
    this.file = path.join(stateDir, 'jobs.json');
  }

  /** The stored jobs; those cut short by a restart are marked failed. */
  async load(): Promise<StoredJob[]> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(this.file, 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new Error(`${this.file} is not readable JSON: ${(error as Error).message}`);
    }
    if (!Value.Check(StoredJobsSchema, parsed)) {
      throw new Error(`${this.file} does not hold a fedxray job history`);
    }
    return parsed.map((job) =>
      job.view.status === 'done' || job.view.status === 'failed'
        ? job
        : {
            ...job,
            view: {
              ...job.view,
              status: 'failed' as const,
              error: 'interrupted: the hospital node restarted',
              finishedAt: job.view.finishedAt ?? new Date().toISOString(),
            },
          },
    );
  }

  save(jobs: readonly StoredJob[]): Promise<void> {
    const json = JSON.stringify(jobs, null, 2);
    return this.writes(async () => {
      await mkdir(path.dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      await writeFile(tmp, json, 'utf8');
      await rename(tmp, this.file);
    });
  }
}
