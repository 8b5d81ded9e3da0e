/**
 * What each selected experiment's stored result makes it (done, stale or pending), and the
 * `--plan` listing with estimated wall times.
 */
import { estimateSchedule, estimateSeconds, trainingImages, type DataSize } from './estimate.ts';
import type { Experiment } from './experiments.ts';
import { formatDuration } from './report-format.ts';
import { readResult, staleReason } from './results.ts';
import type { SuiteData } from './suite-data.ts';
import type { SuiteOptions } from './suite-options.ts';

type Status = 'done' | 'stale' | 'pending';

export async function statusOf(
  e: Experiment,
  o: SuiteOptions,
  data?: SuiteData,
): Promise<{ status: Status; reason?: string }> {
  const stored = await readResult(o.resultsDir, e.spec.id);
  if (!stored) return { status: 'pending' };
  const reason = staleReason(stored, e.spec, data?.identity);
  if (o.force) return { status: 'pending', reason: 'rerun (--force)' };
  return reason ? { status: 'stale', reason } : { status: 'done' };
}

export async function printPlan(
  o: SuiteOptions,
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
