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
import { estimateSchedule, KERMANY_TRAIN, type DataSize } from './estimate.ts';
import type { Experiment } from './experiments.ts';
import { runInChildren } from './child-runs.ts';
import { runHere, verifyStored, writeReports } from './in-process-runs.ts';
import { printPlan, statusOf } from './plan-listing.ts';
import { formatDuration } from './report-format.ts';
import { loadSuiteData, type SuiteData } from './suite-data.ts';
import { parseOptions, USAGE, UsageError, type SuiteOptions } from './suite-options.ts';

export interface SuiteIo {
  /** Progress and messages (stderr by default). */
  log?: (message: string) => void;
}

function timestamped(log: (m: string) => void): (m: string) => void {
  return (m) => log(`${new Date().toISOString().slice(11, 19)} ${m}`);
}

/** Runs the suite; returns the exit code. */
export async function runPaperSuite(argv: string[], io: SuiteIo = {}): Promise<number> {
  const rawLog =
    io.log ??
    ((m: string) => {
      if (process.env.FEDXRAY_QUIET !== '1') process.stderr.write(m + '\n');
    });
  const log = timestamped(rawLog);
  let o: SuiteOptions;
  try {
    o = parseOptions(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write((error.message ? `${error.message}\n\n` : '') + USAGE + '\n');
    return error.message ? 2 : 0;
  }
  const { profile } = o.plan;

  if (o.reportOnly) {
    const { files } = await writeReports(o);
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
    const { files } = await writeReports(o);
    log(`report: ${files.length} files in ${o.resultsDir}`);
    if (stale > 0) log(`${stale} experiment(s) kept stale results (see above)`);
  }
  return failures > 0 ? 1 : 0;
}
