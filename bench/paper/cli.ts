/**
 * The paper suite's command line (bench/paper/run.ts is the entry point):
 *
 *   npx tsx bench/paper/run.ts --profile cpu|paper|tiny --data DIR
 *       [--only table2,table3,federate,curves|ID|PREFIX*] [--results DIR] [--dry-run]
 *       [--force] [--plan] [--report-only] [--jobs N] [--workers N] [--threads N] [--limit N]
 *       [--size S] [--width W] [--epochs E] [--rounds T] [--local-epochs E] [--batch B] [--verify]
 *       [--backend wasm|cpu|tensorflow] [--save-models DIR]
 *
 * Results are files: an experiment whose `<results>/<id>.json` exists with the same settings
 * and data is skipped, so the same command resumes an interrupted suite. Exit codes: 0 done,
 * 1 an experiment failed (the others still ran), 2 bad usage.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ImageCache } from '../../shared/data/index.ts';
import { initBackend } from '../../shared/tf/backend.ts';
import { tmpdir, totalmem } from 'node:os';
import {
  estimateSchedule,
  estimateSeconds,
  KERMANY_TRAIN,
  scheduleOrder,
  trainingImages,
  type DataSize,
} from './estimate.ts';
import {
  buildPlan,
  experimentThreads,
  selectExperiments,
  type Experiment,
  type ExperimentPlan,
} from './experiments.ts';
import { isProfileName, PROFILE_NAMES, resolveProfile, type ProfileOverrides } from './profiles.ts';
import { writeResultsOverview } from './overview.ts';
import { writeReport } from './report.ts';
import { formatDuration } from './report-format.ts';
import { readResult, staleReason } from './results.ts';
import { loadSuiteData, runExperiment, type SuiteData } from './runner.ts';
import { compareResults, formatVerification } from './verify.ts';

export const USAGE = `npx tsx bench/paper/run.ts --profile cpu|paper|tiny --data DIR [options]
  --only LIST       groups (table2, table3, federate, curves) and/or experiment ids, comma-separated;
                    a trailing * matches an id prefix (default: everything)
  --results DIR     result folder (default docs/results/<profile>; bench/out/paper/<profile>
                    for tiny; bench/out/paper/dry-run-<profile> with --dry-run)
  --dry-run         the profile's whole experiment list at tiny scale (32 px, width 8,
                    2 epochs, 2 rounds x 1 local epoch, 40 images): checks the pipeline
  --plan            list the experiments, what is done, and estimated wall times; no training
  --report-only     rewrite the Markdown reports and charts from the result files
  --verify          rerun the selected experiments that have results (into a temporary folder,
                    one at a time, with the threads each was made with) and compare every
                    metric and per-step value with the stored ones; exit 1 unless all agree
  --force           rerun experiments that already have results
  --jobs N          experiments at once, each in its own process (default 1; a federation
                    takes --workers of them)
  --workers N       threads training hospitals at once (default: cores, at most the hospitals;
                    1 on a native backend)
  --threads N       data-parallel threads for a centralised or local-only experiment: each batch
                    is split between them and their gradients summed (default 1). Models with
                    BatchNorm always train on one thread (their statistics need the whole batch)
  --limit N --size S --width W --epochs E --rounds T --local-epochs E --batch B
                    override the profile (changes the settings stored with each result)
  --backend B       wasm | cpu | tensorflow (default: the fastest that loads)
  --save-models DIR also save each trained model as a fedxray model directory DIR/<id>/`;

class UsageError extends Error {}

export interface SuiteIo {
  /** Progress and messages (stderr by default). */
  log?: (message: string) => void;
}

interface Options {
  plan: ExperimentPlan;
  selected: Experiment[];
  dataDir?: string;
  resultsDir: string;
  force: boolean;
  showPlan: boolean;
  reportOnly: boolean;
  verify: boolean;
  jobs: number;
  workers?: number;
  threads: number;
  backend?: string;
  modelsDir?: string;
  /** Internal: run exactly this experiment (a child process of --jobs). */
  id?: string;
  argv: string[];
}

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const RUN_SCRIPT = fileURLToPath(new URL('./run.ts', import.meta.url));
/** tsx's loader, for child processes started from any working directory. */
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

function int(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer >= ${min}, got "${value}"`);
  return n;
}

function parseOptions(argv: string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        profile: { type: 'string' },
        data: { type: 'string' },
        only: { type: 'string' },
        results: { type: 'string' },
        'dry-run': { type: 'boolean' },
        plan: { type: 'boolean' },
        'report-only': { type: 'boolean' },
        verify: { type: 'boolean' },
        force: { type: 'boolean' },
        jobs: { type: 'string' },
        workers: { type: 'string' },
        threads: { type: 'string' },
        limit: { type: 'string' },
        size: { type: 'string' },
        width: { type: 'string' },
        epochs: { type: 'string' },
        rounds: { type: 'string' },
        'local-epochs': { type: 'string' },
        batch: { type: 'string' },
        backend: { type: 'string' },
        'save-models': { type: 'string' },
        id: { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const v = parsed.values;
  if (v.help) throw new UsageError('');
  const name = v.profile;
  if (name === undefined || !isProfileName(name))
    throw new UsageError(`--profile must be one of ${PROFILE_NAMES.join(', ')}`);
  const dryRun = v['dry-run'] ?? false;
  const overrides: ProfileOverrides = {
    limit: int('limit', v.limit, 4),
    inputSize: int('size', v.size, 32),
    width: int('width', v.width, 4),
    centralisedEpochs: int('epochs', v.epochs, 1),
    rounds: int('rounds', v.rounds, 1),
    localEpochs: int('local-epochs', v['local-epochs'], 1),
    batchSize: int('batch', v.batch, 1),
  };
  const profile = resolveProfile(name, { dryRun, overrides });
  const plan = buildPlan(profile);
  const only = (v.only ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  let selected: Experiment[];
  try {
    selected = v.id !== undefined ? selectExperiments(plan, [v.id]) : selectExperiments(plan, only);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const defaultResults = dryRun
    ? `bench/out/paper/dry-run-${name}`
    : name === 'tiny'
      ? 'bench/out/paper/tiny'
      : `docs/results/${name}`;
  return {
    plan,
    selected,
    dataDir: v.data,
    resultsDir: v.results ?? `${REPO}${defaultResults}`,
    force: v.force ?? false,
    showPlan: v.plan ?? false,
    reportOnly: v['report-only'] ?? false,
    verify: v.verify ?? false,
    jobs: int('jobs', v.jobs, 1) ?? 1,
    workers: int('workers', v.workers, 1),
    threads: int('threads', v.threads, 1) ?? 1,
    backend: v.backend,
    modelsDir: v['save-models'],
    id: v.id,
    argv,
  };
}

function timestamped(log: (m: string) => void): (m: string) => void {
  return (m) => log(`${new Date().toISOString().slice(11, 19)} ${m}`);
}

type Status = 'done' | 'stale' | 'pending';

async function statusOf(
  e: Experiment,
  o: Options,
  data?: SuiteData,
): Promise<{ status: Status; reason?: string }> {
  const stored = await readResult(o.resultsDir, e.spec.id);
  if (!stored) return { status: 'pending' };
  const reason = staleReason(stored, e.spec, data?.identity);
  if (o.force) return { status: 'pending', reason: 'rerun (--force)' };
  return reason ? { status: 'stale', reason } : { status: 'done' };
}

/** Runs the suite; returns the exit code. */
export async function runPaperSuite(argv: string[], io: SuiteIo = {}): Promise<number> {
  const rawLog =
    io.log ??
    ((m: string) => {
      if (process.env.FEDXRAY_QUIET !== '1') process.stderr.write(m + '\n');
    });
  const log = timestamped(rawLog);
  let o: Options;
  try {
    o = parseOptions(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write((error.message ? `${error.message}\n\n` : '') + USAGE + '\n');
    return error.message ? 2 : 0;
  }
  const { profile } = o.plan;

  if (o.reportOnly) {
    const { files } = await report(o);
    log(`report: ${files.length} files in ${o.resultsDir}`);
    return 0;
  }

  let data: SuiteData | undefined;
  if (o.dataDir) data = await loadSuiteData(o.dataDir, o.plan.experiments[0].spec.split);
  const size: DataSize = data
    ? { train: data.identity.trainImages, val: data.identity.valImages }
    : KERMANY_TRAIN;

  if (o.showPlan) {
    await printPlan(o, size, data, rawLog);
    return 0;
  }
  if (!data || !o.dataDir) {
    process.stderr.write(`--data DIR is required\n\n${USAGE}\n`);
    return 2;
  }
  if (o.verify) return verifyStored(o, data, log, rawLog);
  if (o.id === undefined)
    log(
      `profile ${profile.name}${profile.dryRun ? ' (dry run)' : ''}: ${profile.description}; results in ${o.resultsDir}`,
    );
  log(
    `data ${o.dataDir}: train ${data.identity.trainImages} images (${data.identity.trainPatients} patients), validation ${data.identity.valImages} images (${data.identity.valPatients} patients)`,
  );

  const pending: Experiment[] = [];
  let stale = 0;
  for (const e of o.selected) {
    const { status, reason } = await statusOf(e, o, data);
    if (status === 'done') log(`skip ${e.spec.id}: done`);
    else if (status === 'stale') {
      stale++;
      log(`skip ${e.spec.id}: a result exists but ${reason}; --force reruns it`);
    } else pending.push(e);
  }
  let failures = 0;
  if (pending.length > 0) {
    const estimate = estimateSchedule(pending, size, {
      workers: o.workers ?? 2,
      jobs: o.jobs,
      threads: o.threads,
    });
    if (o.id === undefined)
      log(
        `${pending.length} experiment(s) to run` +
          (estimate !== undefined && !profile.dryRun && profile.name !== 'tiny'
            ? `, estimated ${formatDuration(estimate)} on a 2-core wasm machine`
            : ''),
      );
    failures =
      o.jobs > 1 && o.id === undefined
        ? await runInChildren(pending, o, size, rawLog)
        : await runHere(pending, o, data, log);
  } else if (o.id === undefined) log('nothing to run: every selected experiment has a result');

  if (o.id === undefined) {
    const { files } = await report(o);
    log(`report: ${files.length} files in ${o.resultsDir}`);
    if (stale > 0) log(`${stale} experiment(s) kept stale results (see above)`);
  }
  return failures > 0 ? 1 : 0;
}

async function runHere(
  pending: Experiment[],
  o: Options,
  data: SuiteData,
  log: (m: string) => void,
): Promise<number> {
  const backend = await initBackend({ preferred: o.backend, log });
  const pixels = o.plan.profile.inputSize ** 2 * 4;
  const needed = (data.identity.trainImages + data.identity.valImages) * pixels * 1.1;
  const cache = new ImageCache({
    maxBytes: Math.max(512 * 2 ** 20, Math.min(needed, totalmem() / 4)),
  });
  let failures = 0;
  let lastReport = performance.now();
  for (const e of pending) {
    log(`run ${e.spec.id} (${e.groups.join(', ')}): ${e.spec.title}`);
    try {
      await runExperiment(e.spec, {
        profile: o.plan.profile.name,
        dryRun: o.plan.profile.dryRun,
        groups: e.groups,
        data,
        backend,
        cache,
        resultsDir: o.resultsDir,
        workers: o.workers,
        threads: o.threads,
        jobs: o.jobs,
        modelsDir: o.modelsDir,
        log,
      });
    } catch (error) {
      failures++;
      log(
        `FAILED ${e.spec.id}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
    }
    // Long suites: keep the reports current between experiments (cheap next to training).
    if (o.id === undefined && performance.now() - lastReport > 60_000) {
      await report(o);
      lastReport = performance.now();
    }
  }
  return failures;
}

/**
 * The profile's reports, and docs/results.md when the results are in their committed place
 * (docs/results/<profile>: not a --results folder of one's own, not a dry run).
 */
async function report(o: Options): Promise<{ files: string[] }> {
  const output = await writeReport(o.resultsDir, { plan: o.plan });
  const root = resolve(REPO, 'docs/results');
  if (resolve(o.resultsDir) === resolve(root, o.plan.profile.name) && !o.plan.profile.dryRun) {
    await writeResultsOverview(root, resolve(REPO, 'docs/results.md'));
    output.files.push('../results.md');
  }
  return output;
}

/** --jobs N: each experiment in its own process, N cores busy (a federation takes --workers). */
async function runInChildren(
  pending: Experiment[],
  o: Options,
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

/**
 * --verify: each selected experiment with a current result is run again into a temporary
 * folder and compared with it (bench/paper/verify.ts); prints a table per experiment.
 */
async function verifyStored(
  o: Options,
  data: SuiteData,
  log: (m: string) => void,
  out: (m: string) => void,
): Promise<number> {
  let failures = 0;
  for (const e of o.selected) {
    const stored = await readResult(o.resultsDir, e.spec.id);
    const reason = stored ? staleReason(stored, e.spec, data.identity) : 'there is no result';
    if (!stored || reason) {
      log(`cannot verify ${e.spec.id}: ${reason}`);
      failures++;
      continue;
    }
    const dir = await mkdtemp(join(tmpdir(), 'fedxray-verify-'));
    try {
      const threads = e.spec.kind === 'federated' ? o.threads : stored.workers;
      log(`verify ${e.spec.id}: rerun with ${threads} thread(s) into ${dir}`);
      const ran = await runHere([e], { ...o, resultsDir: dir, threads, force: true }, data, log);
      const rerun = ran === 0 ? await readResult(dir, e.spec.id) : undefined;
      if (!rerun) {
        failures++;
        continue;
      }
      const verification = compareResults(stored, rerun);
      out(formatVerification(verification) + '\n');
      if (!verification.reproduced) failures++;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  log(
    failures === 0
      ? `verified: ${o.selected.length} experiment(s) reproduced`
      : `${failures} of ${o.selected.length} experiment(s) not reproduced or not verifiable`,
  );
  return failures === 0 ? 0 : 1;
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

async function printPlan(
  o: Options,
  size: DataSize,
  data: SuiteData | undefined,
  out: (m: string) => void,
): Promise<void> {
  const { profile } = o.plan;
  const workers = o.workers ?? 2;
  const lines: string[] = [
    `profile ${profile.name}${profile.dryRun ? ' (dry run)' : ''}: ${profile.description}`,
    `results: ${o.resultsDir}`,
    `data: ${data ? `${size.train} training, ${size.val} validation images` : `not given; estimates assume the Kermany train split (${size.train} training, ${size.val} validation images)`}`,
    '',
  ];
  const pending: Experiment[] = [];
  for (const e of o.selected) {
    const { status, reason } = await statusOf(e, o, data);
    const est = estimateSeconds(e, size, { workers, jobs: o.jobs, threads: o.threads });
    lines.push(
      `${status.padEnd(8)} ${e.spec.id.padEnd(58)} ${e.groups.join(',').padEnd(22)} ${est === undefined ? '?' : formatDuration(est)}${reason ? `  (${reason})` : ''}`,
    );
    if (status === 'pending') pending.push(e);
  }
  const images = pending.reduce((sum, e) => sum + trainingImages(e, size), 0);
  const total1 = estimateSchedule(pending, size, { workers, jobs: 1, threads: o.threads });
  const total2 = estimateSchedule(pending, size, { workers, jobs: 2, threads: o.threads });
  lines.push(
    '',
    `${pending.length} of ${o.selected.length} to run: ${(images / 1e6).toFixed(2)} million training images (all epochs, rounds and hospitals) at ${profile.inputSize} px. ` +
      (total1 === undefined
        ? 'No wall-time estimate: nothing was measured for this input size and batch on wasm.'
        : `Estimated wall time on a 2-core wasm machine: ${formatDuration(total1)} with --jobs 1, ${formatDuration(total2 ?? total1)} with --jobs 2 (rough, \u00b130%).`),
  );
  out(lines.join('\n'));
}
