/**
 * Reports of the paper suite, made from the result files alone: one Markdown file per group
 * (`table2.md`, `table3.md`, `federate.md`, `curves.md`) with the paper's numbers beside ours,
 * PNG curves per group, and a README.md index, all in the results folder.
 *
 *   npx tsx bench/paper/report.ts --results docs/results/cpu [--profile cpu]
 *
 * With --profile (run.ts passes its plan) experiments not run yet are listed too.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { GROUP_NAMES, buildPlan, type ExperimentPlan, type GroupName } from './experiments.ts';
import { federateSection } from './federate-section.ts';
import { table2Section, table3Section } from './paper-tables.ts';
import { isProfileName, resolveProfile } from './profiles.ts';
import { fullTable, provenance } from './report-appendix.ts';
import { historyTable, images, seriesLabel, writeCharts } from './report-curves.ts';
import { formatDuration, table } from './report-format.ts';
import { GROUP_TITLES, header, protocolLink } from './report-header.ts';
import { groupRows } from './report-rows.ts';
import { loadResults, writeFileAtomic, type ExperimentResult } from './results.ts';
import { thresholdSection } from './threshold-section.ts';

export interface ReportOutput {
  files: string[];
}

/** Writes every group's Markdown file and charts, and README.md, into resultsDir. */
export async function writeReport(
  resultsDir: string,
  options: { plan?: ExperimentPlan; groups?: readonly GroupName[] } = {},
): Promise<ReportOutput> {
  const { plan } = options;
  const results = await loadResults(resultsDir);
  const files: string[] = [];
  const index: string[][] = [];
  for (const group of options.groups ?? GROUP_NAMES) {
    const rows = groupRows(group, results, plan);
    if (rows.length === 0) continue;
    const done = rows.filter((r) => r.result && !r.stale).map((r) => r.result as ExperimentResult);
    const parts = [header(resultsDir, group, rows, results, plan)];
    const charts: string[] = [];
    if (group === 'table2') {
      parts.push(table2Section(rows));
      charts.push(
        ...(await writeCharts(resultsDir, 'table2', 'BN vs GN by batch size', done, [
          'valAccuracy',
          'valLoss',
        ])),
      );
    } else if (group === 'table3') {
      parts.push(table3Section(rows));
    } else if (group === 'threshold') {
      parts.push(thresholdSection(rows));
    } else if (group === 'federate') {
      parts.push(federateSection(rows));
      const schemes = [
        ...new Set(
          done.map((r) => r.spec.federation?.partition.scheme ?? r.spec.hospital?.partition.scheme),
        ),
      ];
      for (const scheme of schemes.filter((s) => s !== undefined)) {
        const subset = done.filter(
          (r) =>
            r.spec.kind === 'centralised' ||
            (r.spec.federation ?? r.spec.hospital)?.partition.scheme === scheme,
        );
        charts.push(
          ...(await writeCharts(
            resultsDir,
            `federate-${scheme}`,
            `${scheme === 'iid' ? 'IID' : 'non-IID'} hospitals`,
            subset,
            ['valAccuracy', 'valLoss'],
            (r) => (r.spec.kind === 'centralised' ? `pooled ${seriesLabel(r)}` : seriesLabel(r)),
          )),
        );
      }
    } else {
      charts.push(
        ...(await writeCharts(resultsDir, 'curves', 'every model of Table 3', done, [
          'valAccuracy',
          'valLoss',
          'trainAccuracy',
          'trainLoss',
        ])),
      );
      parts.push('## Per epoch or round', '', historyTable(done));
    }
    if (charts.length > 0) parts.push('## Curves', '', images(charts));
    parts.push('## Every metric', '', fullTable(rows));
    const p = provenance(rows);
    if (p) parts.push(p);
    const file = `${group}.md`;
    const markdown = parts
      .join('\n\n')
      .replace(/\n{3,}/g, '\n\n')
      .trimEnd();
    await writeFileAtomic(join(resultsDir, file), markdown + '\n');
    files.push(file, ...charts);
    index.push([
      `[${GROUP_TITLES[group]}](${file})`,
      `${rows.filter((r) => r.result).length} of ${rows.length}`,
    ]);
  }
  const total = results.reduce((s, r) => s + r.wallSeconds, 0);
  const profile = plan?.profile ?? undefined;
  const readme = [
    `# Paper experiments${profile ? `: profile \`${profile.name}\`${profile.dryRun ? ' (dry run)' : ''}` : ''}`,
    '',
    `Made by \`bench/paper/run.ts\` from the result files in this folder (one JSON per experiment, named by its id); protocol: [docs/paper-protocol.md](${protocolLink(resultsDir)}).`,
    '',
    table(['Group', 'Experiments done'], index),
    '',
    `${results.length} result files, ${formatDuration(total)} of experiment wall time in all.`,
  ].join('\n');
  await writeFileAtomic(join(resultsDir, 'README.md'), readme + '\n');
  files.push('README.md');
  return { files };
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      results: { type: 'string' },
      profile: { type: 'string' },
      'dry-run': { type: 'boolean' },
    },
  });
  if (!values.results) {
    process.stderr.write(
      'usage: npx tsx bench/paper/report.ts --results DIR [--profile cpu|paper|tiny [--dry-run]]\n',
    );
    return 2;
  }
  let plan: ExperimentPlan | undefined;
  if (values.profile !== undefined) {
    if (!isProfileName(values.profile)) {
      process.stderr.write(`unknown profile ${values.profile}\n`);
      return 2;
    }
    plan = buildPlan(resolveProfile(values.profile, { dryRun: values['dry-run'] }));
  }
  const { files } = await writeReport(values.results, { plan });
  process.stderr.write(`wrote ${files.length} files to ${values.results}\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
