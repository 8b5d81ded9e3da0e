/**
 * The two tables at the end of every group's report: every metric of each experiment, and the
 * wall time, machine and rerun command of each result.
 */
import { est, formatDuration, num, table } from './report-format.ts';
import { rowTitle, type Row } from './report-rows.ts';
import type { ExperimentResult } from './results.ts';

const METRICS = ['accuracy', 'precision', 'recall', 'specificity', 'f1', 'auc'] as const;
const METRIC_TITLES: Record<(typeof METRICS)[number], string> = {
  accuracy: 'Accuracy',
  precision: 'Precision',
  recall: 'Recall',
  specificity: 'Specificity',
  f1: 'F1',
  auc: 'AUC',
};

export function machineLabel(r: ExperimentResult): string {
  const m = r.machine;
  const gpu = m.gpu ? `, ${m.gpu}` : '';
  return `${m.cpus} x ${m.cpuModel}, ${m.memoryGiB} GiB${gpu}; ${r.backend.name}`;
}

export function fullTable(rows: Row[]): string {
  return table(
    ['Experiment', ...METRICS.map((m) => `${METRIC_TITLES[m]} [95% CI]`), 'n', 'Wall time'],
    rows.map((row) => {
      const r = row.result;
      return [
        rowTitle(row),
        ...METRICS.map((m) => (r ? est(r.metrics[m]) : 'not run yet')),
        r ? String(r.metrics.n) : '-',
        r ? formatDuration(r.wallSeconds) : '-',
      ];
    }),
  );
}

export function provenance(rows: Row[]): string {
  const done = rows.filter((r) => r.result).map((r) => r.result as ExperimentResult);
  if (done.length === 0) return '';
  const lines = done.map(
    (r) =>
      `| \`${r.id}\` | ${formatDuration(r.wallSeconds)} | ${num(r.trainImagesPerSecond, 1)} | ${machineLabel(r)} | ${r.workers} | ${r.jobs} | ${r.machine.loadAverageStart.map((x) => x.toFixed(1)).join(' ')} | ${r.finishedAt.slice(0, 16).replace('T', ' ')} |`,
  );
  const total = done.reduce((s, r) => s + r.wallSeconds, 0);
  return [
    `### Wall time and machine`,
    '',
    `| Experiment | Wall time | Train img/s | Machine; backend | Threads | Jobs | Load avg at start | Finished (UTC) |`,
    `|---|---:|---:|---|---:|---:|---|---|`,
    ...lines,
    '',
    `${done.length} of ${rows.length} experiments done; ${formatDuration(total)} of wall time in all (experiments run with --jobs > 1 overlap).`,
    '',
    'To rerun one, with DIR the training images it was made from (the result records their hash) and its result file replaced: ' +
      done.map((r) => `\`${rerunCommand(r)}\``).join('; ') +
      '.',
  ].join('\n');
}

/** The command that reruns a result as it was made (data-parallel threads included). */
export function rerunCommand(r: ExperimentResult): string {
  const threads = r.kind !== 'federated' && r.workers > 1 ? ` --threads ${r.workers}` : '';
  return `npx tsx bench/paper/run.ts --profile ${r.profile} --data DIR --only ${r.id} --force${threads}`;
}
