/**
 * `--jobs N`: each pending experiment in a child process of its own (bench/paper/run.ts with
 * `--id`), started in schedule order while N cores are free.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { scheduleOrder, type DataSize } from './estimate.ts';
import { experimentThreads, type Experiment } from './experiments.ts';
import type { SuiteOptions } from './suite-options.ts';

const RUN_SCRIPT = fileURLToPath(new URL('./run.ts', import.meta.url));
/** tsx's loader, for child processes started from any working directory. */
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** --jobs N: each experiment in its own process, N cores busy (a federation takes --workers). */
export async function runInChildren(
  pending: Experiment[],
  o: SuiteOptions,
  size: DataSize,
  log: (m: string) => void,
): Promise<number> {
  const workers = o.workers ?? Math.min(o.jobs, o.plan.profile.clients);
  const queue = scheduleOrder(pending, size, { workers, jobs: o.jobs, threads: o.threads });
  let free = o.jobs;
  let failures = 0;
  const forward = (id: string, chunk: Buffer): void => {
    for (const line of chunk.toString().split('\n'))
      if (line.trim()) log(line.includes(`[${id}]`) ? line : `[${id}] ${line}`);
  };
  await new Promise<void>((resolve) => {
    let running = 0;
    const next = (): void => {
      while (queue.length > 0) {
        const e = queue[0];
        const need =
          e.spec.kind === 'federated'
            ? Math.min(workers, o.jobs)
            : Math.min(experimentThreads(e.spec, o.threads), o.jobs);
        if (need > free) break;
        queue.shift();
        free -= need;
        running++;
        const args = [
          '--import',
          TSX_LOADER,
          RUN_SCRIPT,
          ...stripOptions(o.argv, ['only', 'jobs', 'workers', 'threads', 'id', 'results']),
          '--results',
          o.resultsDir,
          '--id',
          e.spec.id,
          '--jobs',
          String(o.jobs),
          '--workers',
          String(e.spec.kind === 'federated' ? need : 1),
          '--threads',
          String(e.spec.kind === 'federated' ? 1 : need),
        ];
        const child = spawn(process.execPath, args, {
          cwd: process.cwd(),
          stdio: ['ignore', 'inherit', 'pipe'],
        });
        child.stderr.on('data', (chunk: Buffer) => forward(e.spec.id, chunk));
        child.on('close', (code) => {
          if (code !== 0) {
            failures++;
            log(`FAILED ${e.spec.id}: exit code ${code}`);
          }
          free += need;
          running--;
          if (queue.length === 0 && running === 0) resolve();
          else next();
        });
      }
      if (queue.length === 0 && running === 0) resolve();
    };
    next();
  });
  return failures;
}

/** argv without the given --name VALUE / --name=VALUE options. */
function stripOptions(argv: string[], names: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = names.find((n) => a === `--${n}` || a.startsWith(`--${n}=`));
    if (name === undefined) out.push(a);
    else if (a === `--${name}`) i++;
  }
  return out;
}
