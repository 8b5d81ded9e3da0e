/**
 * docs/results.md: every profile's results in one page, the paper's tables beside ours, made
 * from the result files alone (no number in it comes from anywhere else), plus the plain list
 * of how our setup differs from the paper's. run.ts rewrites it with the per-profile reports.
 */
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { buildPlan } from './experiments.ts';
import { resolveProfile, type ProfileName } from './profiles.ts';
import { federateSection } from './federate-section.ts';
import { table2Section, table3Section } from './paper-tables.ts';
import { machineLabel } from './report-appendix.ts';
import { formatDuration } from './report-format.ts';
import { header } from './report-header.ts';
import { groupRows } from './report-rows.ts';
import { loadResults, writeFileAtomic, type ExperimentResult } from './results.ts';
import { thresholdSection } from './threshold-section.ts';

/** Profiles shown: the ones meant to be committed (tiny runs are tests). */
const SHOWN: readonly ProfileName[] = ['cpu', 'paper'];

const DIFFERENCES = `## How our setup differs from the paper's

- **Where we measure.** The paper reports the official Kermany test set (624 images). That
  split is not given to us: every number of ours is on a patient-level validation split carved
  from the training data (10%, stratified, seed 42) that no model trained on. It comes from the
  same distribution as the training images and is easier than the official test split: our
  numbers are not comparable one to one with the paper's.
- **Input size and epochs (\`cpu\` profile).** 64 x 64 instead of 224 x 224, and 6 centralised
  epochs (VGG-16: 3, for cost) or 6 federated rounds x 1 local epoch instead of the paper's
  longer schedules (20 rounds x 10 local epochs federated), so that the suite fits 2 CPU cores.
  The \`paper\` profile is the paper's protocol at 224 px for a GPU machine.
- **Hardware.** 2 CPU cores with TensorFlow.js on its wasm backend, not a GPU: one thread per
  experiment except federations (hospitals on 2 threads) and data-parallel runs (\`--threads\`);
  each result's threads are in its profile's wall-time table. Wall times are those of that machine.
- **Recipe.** Adam (learning rate 0.001, cosine schedule), decoupled weight decay 1e-4, label
  smoothing 0.05, class weights, light augmentation, a fixed 0.5 threshold; the paper does not
  state all of its choices. One more federation (the operating-point study) chooses its
  threshold by min-recall 0.97 on calibration splits its hospitals hold out of their own
  shares, never on the validation split. Another (the non-IID federation again) weights every
  hospital's loss by class weights from the summed class counts of all shares instead of its
  own share's. Details and every other difference: [docs/paper-protocol.md](paper-protocol.md).
- **Networks.** The same architectures at full width (ResNet-18 with GroupNorm G = 16 and SE
  r = 16; AlexNet, VGG-16, ResNet-18, SE-ResNet-18-BN), adapted to the input size where a
  fixed-size layer requires it (docs/paper-protocol.md).`;

function profileStatus(name: string, results: ExperimentResult[], planned: number): string[] {
  const wall = results.reduce((sum, r) => sum + r.wallSeconds, 0);
  const machines = [...new Set(results.map(machineLabel))];
  return [
    `\`${name}\``,
    `${results.length} of ${planned}`,
    results.length > 0 ? formatDuration(wall) : '-',
    machines.join('; ') || '-',
  ];
}

export async function writeResultsOverview(resultsRoot: string, outFile: string): Promise<void> {
  const status: string[][] = [];
  const sections: string[] = [];
  for (const name of SHOWN) {
    const dir = join(resultsRoot, name);
    const plan = buildPlan(resolveProfile(name, {}));
    const results = existsSync(dir) ? await loadResults(dir) : [];
    status.push(profileStatus(name, results, plan.experiments.length));
    if (results.length === 0) continue;
    const link = (file: string): string => relative(join(outFile, '..'), join(dir, file));
    const table3 = groupRows('table3', results, plan);
    const table2 = groupRows('table2', results, plan);
    const federate = groupRows('federate', results, plan);
    const threshold = groupRows('threshold', results, plan);
    sections.push(
      `## Profile \`${name}\``,
      // The group header without its title and its folder-relative protocol link.
      header(dir, 'table3', table3, results, plan)
        .replace(/^# .*\n/, '')
        .replace(/^Profile `.*\n/m, ''),
      `### Table 3 ([details and curves](${link('table3.md')}))`,
      table3Section(table3).replace(/^## .*\n/, ''),
      `### Table 2 ([details and curves](${link('table2.md')}))`,
      table2Section(table2).replace(/^## .*\n/m, ''),
      `### Why federate ([details and curves](${link('federate.md')}))`,
      federateSection(federate)
        .replace(/^## .*\n/m, '')
        .replace('Precision is in the full table below.', 'Precision: see federate.md.'),
      `### Recall at the operating point ([details](${link('threshold.md')}))`,
      thresholdSection(threshold).replace(/^## .*\n/m, ''),
      `Per-epoch and per-round curves of every model: [curves.md](${link('curves.md')}).`,
    );
  }
  const markdown = [
    '# Results: fedxray against the paper',
    '',
    'Written by `bench/paper/run.ts` from the result files under `docs/results/<profile>/` (rerun',
    '`npx tsx bench/paper/run.ts --profile cpu --report-only` to rewrite it); nothing here is',
    'edited by hand. Experiments not run yet are listed as such: no number stands in for them.',
    '',
    '| Profile | Experiments done | Wall time of those | Machine |',
    '|---|---:|---:|---|',
    ...status.map((row) => `| ${row.join(' | ')} |`),
    '',
    DIFFERENCES,
    '',
    ...sections.flatMap((section) => [section, '']),
  ]
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd();
  await writeFileAtomic(outFile, markdown + '\n');
}
