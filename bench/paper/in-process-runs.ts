/**
 * Experiments run in this process: the pending ones one after another, `--verify`'s reruns
 * compared with the stored results, and the reports written from the result files.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { ImageCache } from '../../shared/data/index.ts';
import { initBackend } from '../../shared/tf/backend.ts';
import type { Experiment } from './experiments.ts';
import { writeResultsOverview } from './overview.ts';
import { writeReport } from './report.ts';
import { readResult, staleReason } from './results.ts';
import { runExperiment } from './runner.ts';
import type { SuiteData } from './suite-data.ts';
import { REPO, type SuiteOptions } from './suite-options.ts';
import { compareResults, formatVerification } from './verify.ts';

export async function runHere(
  pending: Experiment[],
  o: SuiteOptions,
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
      await writeReports(o);
      lastReport = performance.now();
    }
  }
  return failures;
}

/**
 * The profile's reports, and docs/results.md when the results are in their committed place
 * (docs/results/<profile>: not a --results folder of one's own, not a dry run).
 */
export async function writeReports(o: SuiteOptions): Promise<{ files: string[] }> {
  const output = await writeReport(o.resultsDir, { plan: o.plan });
  const root = resolve(REPO, 'docs/results');
  if (resolve(o.resultsDir) === resolve(root, o.plan.profile.name) && !o.plan.profile.dryRun) {
    await writeResultsOverview(root, resolve(REPO, 'docs/results.md'));
    output.files.push('../results.md');
  }
  return output;
}

/**
 * --verify: each selected experiment with a current result is run again into a temporary
 * folder and compared with it (bench/paper/verify.ts); prints a table per experiment.
 */
export async function verifyStored(
  o: SuiteOptions,
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
