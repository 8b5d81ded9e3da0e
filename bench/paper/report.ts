/**
 * Reports of the paper suite, made from the result files alone: one Markdown file per group
 * (`table2.md`, `table3.md`, `federate.md`, `curves.md`) with the paper's numbers beside ours,
 * PNG curves per group, and a README.md index, all in the results folder.
 *
 *   npx tsx bench/paper/report.ts --results docs/results/cpu [--profile cpu]
 *
 * With --profile (run.ts passes its plan) experiments not run yet are listed too.
 */
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Estimate, EvaluationReport } from '../../shared/metrics/index.ts';
import { renderLineChart, type LineSeries } from '../../shared/report/index.ts';
import {
  GROUP_NAMES,
  buildPlan,
  displayName,
  type Experiment,
  type ExperimentPlan,
  type ExperimentSpec,
  type GroupName,
} from './experiments.ts';
import { isProfileName, resolveProfile } from './profiles.ts';
import {
  canonicalJson,
  loadResults,
  specKey,
  writeFileAtomic,
  type ExperimentResult,
  type ResultHistoryPoint,
} from './results.ts';

/**
 * The paper's Table 3 (official Kermany test set, 624 images, 224 px). Only the federated
 * model has precision, recall and F1 there. The paper's Table 2 numbers are not transcribed
 * here: add them to PAPER_TABLE2 (by architecture and batch size) to show them beside ours.
 */
export const PAPER_TABLE3: Record<
  string,
  Partial<Record<'accuracy' | 'precision' | 'recall' | 'f1', number>>
> = {
  'centralised/alexnet': { accuracy: 0.875 },
  'centralised/vgg16': { accuracy: 0.847 },
  'centralised/resnet18': { accuracy: 0.85 },
  'centralised/se-resnet18-bn': { accuracy: 0.94 },
  'federated/se-resnet18-gn': { accuracy: 0.952, precision: 0.933, recall: 0.974, f1: 0.953 },
};
export const PAPER_TABLE2: Partial<Record<string, number>> = {};
export const PAPER_TEST_SET = 'the official Kermany test set (624 images) at 224 px';

const GROUP_TITLES: Record<GroupName, string> = {
  table2: 'Table 2: SE-ResNet-BN vs SE-ResNet-GN by batch size (centralised)',
  table3: 'Table 3: classic CNNs and SE-ResNet-BN (centralised) vs FL-SE-ResNet-GN (federated)',
  federate: 'Why federate: the federation vs each hospital alone vs pooled training',
  curves: 'Curves: validation accuracy and loss per epoch or round (Fig. 5 and 6)',
  threshold: "Operating point: the threshold chosen on the hospitals' held-out splits (recall)",
};

const PROTOCOL_DOC = fileURLToPath(new URL('../../docs/paper-protocol.md', import.meta.url));

/** The link to docs/paper-protocol.md from a file in resultsDir. */
function protocolLink(resultsDir: string): string {
  return relative(resolve(resultsDir), PROTOCOL_DOC).split(sep).join('/');
}

const METRICS = ['accuracy', 'precision', 'recall', 'specificity', 'f1', 'auc'] as const;
const METRIC_TITLES: Record<(typeof METRICS)[number], string> = {
  accuracy: 'Accuracy',
  precision: 'Precision',
  recall: 'Recall',
  specificity: 'Specificity',
  f1: 'F1',
  auc: 'AUC',
};

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) {
    const m = Math.floor(seconds / 60);
    return `${m} min ${Math.round(seconds - 60 * m)} s`;
  }
  const h = Math.floor(seconds / 3600);
  return `${h} h ${Math.round((seconds - 3600 * h) / 60)} min`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function est(e: Estimate | undefined, digits = 3): string {
  if (!e) return '-';
  return `${e.value.toFixed(digits)} [${e.ci95[0].toFixed(digits)}, ${e.ci95[1].toFixed(digits)}]`;
}

function num(x: number | undefined, digits = 3): string {
  return x === undefined ? '-' : x.toFixed(digits);
}

function table(header: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const a = align ?? header.map((_, i) => (i === 0 ? 'l' : 'r'));
  return [
    `| ${header.join(' | ')} |`,
    `|${a.map((x) => (x === 'l' ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

export function machineLabel(r: ExperimentResult): string {
  const m = r.machine;
  const gpu = m.gpu ? `, ${m.gpu}` : '';
  return `${m.cpus} x ${m.cpuModel}, ${m.memoryGiB} GiB${gpu}; ${r.backend.name}`;
}

/** The rows of a group: the plan's experiments (run or not), else the results that name it. */
export interface Row {
  id: string;
  spec?: ExperimentSpec;
  result?: ExperimentResult;
  /** Set when the stored result was made with other settings than the plan's. */
  stale?: boolean;
}

export function groupRows(
  group: GroupName,
  results: ExperimentResult[],
  plan?: ExperimentPlan,
): Row[] {
  const byId = new Map(results.map((r) => [r.id, r]));
  if (plan) {
    return plan.experiments
      .filter((e: Experiment) => e.groups.includes(group))
      .map((e) => {
        const result = byId.get(e.spec.id);
        return {
          id: e.spec.id,
          spec: e.spec,
          result,
          stale: result ? specKey(result.spec) !== specKey(e.spec) : undefined,
        };
      });
  }
  return results
    .filter((r) => r.groups.includes(group))
    .map((r) => ({ id: r.id, spec: r.spec, result: r }));
}

function rowTitle(row: Row): string {
  const title = row.result?.title ?? row.spec?.title ?? row.id;
  return row.stale ? `${title} (stale: other settings)` : title;
}

function fullTable(rows: Row[]): string {
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

function provenance(rows: Row[]): string {
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

export function header(
  resultsDir: string,
  group: GroupName,
  rows: Row[],
  results: ExperimentResult[],
  plan?: ExperimentPlan,
): string {
  const any = rows.find((r) => r.result)?.result ?? results[0];
  const spec = rows.find((r) => r.spec)?.spec;
  const lines = [`# ${GROUP_TITLES[group]}`, ''];
  const profileName = plan?.profile.name ?? any?.profile;
  const dryRun = plan?.profile.dryRun ?? any?.dryRun;
  if (profileName)
    lines.push(
      `Profile \`${profileName}\`${dryRun ? ' (dry run at tiny scale: the numbers mean nothing)' : ''}; protocol and differences from the paper: [docs/paper-protocol.md](${protocolLink(resultsDir)}).`,
      '',
    );
  const fed = rows.find((r) => r.spec?.federation)?.spec;
  const centralEpochs = usualCentralisedEpochs(rows);
  const shorter = rows
    .filter((r) => r.spec?.kind === 'centralised' && r.spec.settings.epochs !== centralEpochs)
    .map((r) => `${displayName(r.spec!.architecture)} ${r.spec!.settings.epochs}`);
  const budget = [
    centralEpochs !== undefined &&
      `centralised ${plural(centralEpochs, 'epoch')}${shorter.length > 0 ? ` (${shorter.join(', ')})` : ''}`,
    fed?.federation &&
      `federated ${plural(fed.federation.rounds, 'round')} x ${plural(fed.settings.epochs, 'local epoch')} over ${fed.federation.clients} hospitals (FedAvg weighted by images, fraction ${fed.federation.fraction})`,
  ].filter(Boolean);
  if (budget.length > 0) lines.push(`Training: ${budget.join('; ')}.`, '');
  if (spec) {
    const s = spec.settings;
    lines.push(
      `Input ${spec.preprocessing.inputSize} px (${spec.preprocessing.normalization} normalisation${spec.preprocessing.equalize ? ', CLAHE' : ''}), network width ${spec.width}; ${s.optimizer} lr ${s.learningRate}, ${s.schedule} schedule, weight decay ${s.weightDecay}, class balance ${s.classBalancing}, label smoothing ${s.labelSmoothing}, augmentation ${s.augment ? 'on' : 'off'}, seed ${s.seed}; threshold rule ${spec.thresholdRule}.`,
      '',
    );
  }
  if (any) {
    const d = any.data;
    const hashes = new Set(results.map((r) => r.data.valHash));
    lines.push(
      `Scored on the validation split carved from the training data (${d.description}; never trained on): ${d.valImages} images of ${d.valPatients} patients, ${d.valPneumonia} PNEUMONIA; training data ${d.trainImages} images of ${d.trainPatients} patients${d.usedImages < d.images ? ` (a subset: ${d.usedImages} of ${d.images} images)` : ''}. Intervals: ${any.metrics.ciMethod}.` +
        (hashes.size > 1
          ? ' **Warning: the results in this folder were scored on different validation splits.**'
          : ''),
      '',
    );
  }
  return lines.join('\n');
}

export function table2Section(rows: Row[]): string {
  const batches = [
    ...new Set(rows.map((r) => r.spec?.settings.batchSize).filter((b) => b !== undefined)),
  ].sort((a, b) => a - b);
  const pick = (arch: string, b: number): Row | undefined =>
    rows.find(
      (r) =>
        r.spec?.architecture === arch &&
        r.spec.settings.batchSize === b &&
        r.spec.kind === 'centralised',
    );
  const body = batches.map((b) => {
    const bn = pick('se-resnet18-bn', b);
    const gn = pick('se-resnet18-gn', b);
    const paper = (arch: string): string => num(PAPER_TABLE2[`${arch}/b${b}`]);
    return [
      String(b),
      est(bn?.result?.metrics.accuracy),
      paper('se-resnet18-bn'),
      est(gn?.result?.metrics.accuracy),
      paper('se-resnet18-gn'),
      est(bn?.result?.metrics.auc),
      est(gn?.result?.metrics.auc),
    ];
  });
  return [
    '## Accuracy by batch size',
    '',
    table(
      [
        'Batch',
        'SE-ResNet-BN accuracy (ours)',
        'paper',
        'SE-ResNet-GN accuracy (ours)',
        'paper',
        'SE-ResNet-BN AUC',
        'SE-ResNet-GN AUC',
      ],
      body,
    ),
    '',
    Object.keys(PAPER_TABLE2).length === 0
      ? "The paper's Table 2 values are not transcribed in bench/paper/report.ts (PAPER_TABLE2), hence the dashes."
      : `Paper values: ${PAPER_TEST_SET}.`,
  ].join('\n');
}

function paperKey(spec: ExperimentSpec | undefined): string | undefined {
  return spec ? `${spec.kind}/${spec.architecture}` : undefined;
}

/** The epochs most of the rows' centralised runs were trained for (ties: the first seen). */
function usualCentralisedEpochs(rows: readonly Row[]): number | undefined {
  const counts = new Map<number, number>();
  for (const r of rows)
    if (r.spec?.kind === 'centralised')
      counts.set(r.spec.settings.epochs, (counts.get(r.spec.settings.epochs) ?? 0) + 1);
  let best: number | undefined;
  for (const [epochs, n] of counts) if (best === undefined || n > counts.get(best)!) best = epochs;
  return best;
}

export function table3Section(rows: Row[]): string {
  const usualEpochs = usualCentralisedEpochs(rows);
  const body = rows.map((row) => {
    const r = row.result;
    const paper = PAPER_TABLE3[paperKey(row.spec) ?? ''] ?? {};
    const label = row.spec
      ? `${row.spec.kind === 'federated' ? 'FL-' : ''}${displayName(row.spec.architecture)}`
      : row.id;
    return [
      label,
      row.spec?.kind === 'centralised' && row.spec.settings.epochs !== usualEpochs
        ? `centralised, ${plural(row.spec.settings.epochs, 'epoch')}`
        : (row.spec?.kind ?? '-'),
      num(paper.accuracy),
      est(r?.metrics.accuracy),
      num(paper.precision),
      est(r?.metrics.precision),
      num(paper.recall),
      est(r?.metrics.recall),
      num(paper.f1),
      est(r?.metrics.f1),
    ];
  });
  return [
    '## Ours beside the paper',
    '',
    table(
      [
        'Model',
        'Training',
        'Paper ACC',
        'Our ACC [95% CI]',
        'Paper precision',
        'Our precision',
        'Paper recall',
        'Our recall',
        'Paper F1',
        'Our F1',
      ],
      body,
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    `Paper values: ${PAPER_TEST_SET}; ours: the validation split above (a different, in-distribution and easier split: see docs/paper-protocol.md).`,
  ].join('\n');
}

/**
 * Shares where a class is (nearly) absent: with class weights n / (2 n_c) each of its few
 * images weighs a lot, which is what makes a skewed federation hard; said next to the table.
 */
function classSkewNotes(
  label: string,
  shares: readonly { clientId: string; images: number; pneumonia: number }[],
): string[] {
  return shares.flatMap((s) => {
    const counts = { PNEUMONIA: s.pneumonia, NORMAL: s.images - s.pneumonia };
    return Object.entries(counts)
      .filter(([, n]) => n < 0.01 * s.images)
      .map(([name, n]) =>
        n === 0
          ? `In the ${label} partition ${s.clientId} has no ${name} image at all (${plural(s.images, 'image')}).`
          : `In the ${label} partition ${s.clientId} has ${plural(n, `${name} image`)} among ${s.images}: with class weights n / (2 n_c) each weighs ${num(s.images / (2 * n), 1)} in its local loss.`,
      );
  });
}

export function federateSection(rows: Row[]): string {
  const body: string[][] = [];
  const skewNotes: string[] = [];
  const weightNotes: string[] = [];
  const pooled = rows.find((r) => r.spec?.kind === 'centralised');
  const schemes = [
    ...new Set(
      rows
        .filter((r) => r.spec?.federation || r.spec?.hospital)
        .map((r) => canonicalJson(r.spec?.federation?.partition ?? r.spec?.hospital?.partition)),
    ),
  ];
  for (const scheme of schemes) {
    const partition = JSON.parse(scheme) as { scheme: string; alpha?: number };
    const label = partition.scheme === 'iid' ? 'IID' : `Dirichlet alpha ${partition.alpha}`;
    // The plain federation first, then its variants (federation-wide class weights).
    const feds = rows
      .filter((r) => r.spec?.federation && canonicalJson(r.spec.federation.partition) === scheme)
      .sort(
        (a, b) =>
          Number(a.spec?.classWeights !== undefined) - Number(b.spec?.classWeights !== undefined),
      );
    const locals = rows.filter(
      (r) => r.spec?.hospital && canonicalJson(r.spec.hospital.partition) === scheme,
    );
    // Every federation of a partition has the same shares (calibrated ones are not in this group).
    const shares = feds.map((f) => f.result?.partitions).find((p) => p !== undefined);
    if (shares) skewNotes.push(...classSkewNotes(label, shares));
    const shareText = (clientId: string): string => {
      const p =
        shares?.find((s) => s.clientId === clientId) ??
        locals.find((l) => l.result?.partitions?.[0]?.clientId === clientId)?.result
          ?.partitions?.[0];
      return p
        ? `${plural(p.images, 'image')}, ${p.pneumonia} PNEUMONIA, ${plural(p.patients, 'patient')}`
        : '-';
    };
    const metricCells = (row: Row | undefined): string[] => [
      est(row?.result?.metrics.accuracy),
      est(row?.result?.metrics.recall),
      est(row?.result?.metrics.specificity),
      est(row?.result?.metrics.f1),
      est(row?.result?.metrics.auc),
    ];
    for (const fed of feds) {
      const weighted = fed.spec?.classWeights === 'federation';
      body.push([
        `Federated, ${label}${weighted ? ', federation-wide class weights' : ''}`,
        shares ? shares.map((s) => s.images).join(' + ') + ' images' : '-',
        ...metricCells(fed),
      ]);
      if (weighted) weightNotes.push(federationWeightsNote(fed, label));
    }
    for (const local of locals) {
      const id = `hospital-${(local.spec?.hospital?.index ?? 0) + 1}`;
      body.push([`${id} alone, ${label}`, shareText(id), ...metricCells(local)]);
    }
    const done = locals.filter((l) => l.result).map((l) => l.result as ExperimentResult);
    if (done.length > 0) {
      const mean = (k: 'accuracy' | 'recall' | 'specificity' | 'f1' | 'auc'): string =>
        num(done.reduce((s, r) => s + r.metrics[k].value, 0) / done.length);
      body.push([
        `Mean of the hospitals alone, ${label}`,
        `${done.length} of ${locals.length}`,
        mean('accuracy'),
        mean('recall'),
        mean('specificity'),
        mean('f1'),
        mean('auc'),
      ]);
    }
  }
  if (pooled)
    body.push([
      'Pooled centralised (all hospitals\u2019 data in one place)',
      pooled.result ? `${pooled.result.data.trainImages} images` : '-',
      est(pooled.result?.metrics.accuracy),
      est(pooled.result?.metrics.recall),
      est(pooled.result?.metrics.specificity),
      est(pooled.result?.metrics.f1),
      est(pooled.result?.metrics.auc),
    ]);
  return [
    '## Federation vs hospitals alone vs pooled',
    '',
    table(
      ['Model', 'Training data', 'Accuracy [95% CI]', 'Recall', 'Specificity', 'F1', 'AUC'],
      body,
    ),
    '',
    'Every run has the same epoch budget: a hospital alone trains T x E epochs on its share, the pooled model T x E epochs on all shares, the federation T rounds of E local epochs. Precision is in the full table below.',
    ...(skewNotes.length > 0 ? ['', skewNotes.join(' ')] : []),
    ...(weightNotes.length > 0 ? ['', weightNotes.join(' ')] : []),
  ].join('\n');
}

const NUMBER_WORDS = 'zero one two three four five six seven eight nine ten'.split(' ');

/** The federation-wide class weights of a federation's row: what they were and where from. */
function federationWeightsNote(row: Row, label: string): string {
  const clients = row.spec?.federation?.clients ?? 0;
  const shares = `the ${NUMBER_WORDS[clients] ?? String(clients)} shares`;
  const w = row.result?.classWeights;
  const what = `The ${label} federation with federation-wide class weights`;
  const weights = w
    ? `${what} weighted every hospital's loss by NORMAL ${num(w.weights[0], 4)}, PNEUMONIA ${num(w.weights[1], 4)}, computed from the summed class counts of ${shares} (${w.counts[0]} NORMAL, ${w.counts[1]} PNEUMONIA images)`
    : `${what} (not run yet) gives every hospital's loss one set of class weights, computed from the summed class counts of ${shares}`;
  return `${weights}, not from each hospital's own share; its partition, recipe, rounds and seeds are those of the federation above it.`;
}

/**
 * The recall study: the paper's federated row, our federation at the fixed 0.5, and the
 * calibrated federation at 0.5 and at the threshold its hospitals' held-out splits gave.
 */
export function thresholdSection(rows: Row[]): string {
  const paper = PAPER_TABLE3['federated/se-resnet18-gn'];
  const cells = (m: EvaluationReport | undefined): string[] => [
    est(m?.accuracy),
    est(m?.precision),
    est(m?.recall),
    est(m?.specificity),
    est(m?.f1),
    est(m?.auc),
  ];
  const body: string[][] = [
    [
      `Paper: FL-SE-ResNet-GN on ${PAPER_TEST_SET}`,
      '-',
      num(paper.accuracy),
      num(paper.precision),
      num(paper.recall),
      '-',
      num(paper.f1),
      '-',
    ],
  ];
  const notes: string[] = [];
  for (const row of rows) {
    const r = row.result;
    const fed = row.spec?.federation;
    const label = fed
      ? `Ours: FL-SE-ResNet-GN, ${fed.clients} hospitals, ${plural(fed.rounds, 'round')}`
      : rowTitle(row);
    const calibrationSpec = row.spec?.calibration;
    if (!calibrationSpec) {
      body.push([
        `${label}, trained on all of each share, at ${r ? r.threshold.rule : 'its rule'}`,
        r ? num(r.threshold.threshold) : '-',
        ...cells(r?.metrics),
      ]);
      continue;
    }
    const c = r?.calibration;
    const held = `${Math.round(calibrationSpec.fraction * 100)}% of each share held out`;
    body.push(
      [`${label}, ${held}, at the fixed 0.5`, '0.500', ...cells(r?.metricsAtDefault)],
      [
        `${label}, ${held}, at the calibrated threshold (${calibrationSpec.rule})`,
        r ? num(r.threshold.threshold) : '-',
        ...cells(r?.metrics),
      ],
    );
    if (c)
      notes.push(
        `Calibration of \`${row.id}\`: rule \`${c.rule}\` on the pooled ${c.bins}-bin score histograms of ${plural(c.images, 'held-out image')} (${c.pneumonia} PNEUMONIA) of ${plural(c.hospitals.length, 'hospital')} (${c.hospitals.map((h) => `${h.clientId} ${h.images}`).join(', ')}), never trained on; threshold ${num(c.threshold.threshold)}, which gives recall ${num(c.recall)} and specificity ${num(c.specificity)} on them. No validation image took part in the choice.`,
      );
  }
  return [
    '## Recall at the operating point',
    '',
    table(
      [
        'Model',
        'Threshold',
        'Accuracy [95% CI]',
        'Precision',
        'Recall',
        'Specificity',
        'F1',
        'AUC',
      ],
      body,
    ),
    '',
    ...notes.flatMap((n) => [n, '']),
    'The calibrated federation trains on 90% of each share (the rest is its hospital\u2019s calibration split), the uncalibrated one on all of it; both are scored on the same validation split. A hospital shares only class counts per score bin, as a node\u2019s POST /evaluate does.',
    '',
    'The calibration splits come from the same distribution as the validation split, so this shows the operating point the hospitals\u2019 own data support, which is what a deployment at those hospitals needs. It does not show how the threshold transfers to a shifted population: where NORMAL images of another population score higher (as reported for the official Kermany test split, docs/engine.md), a lower threshold costs specificity there.',
  ].join('\n');
}

type CurveKey = 'valAccuracy' | 'valLoss' | 'trainAccuracy' | 'trainLoss';

function seriesLabel(r: ExperimentResult): string {
  const s = r.spec;
  const base = `${s.kind === 'federated' ? 'FL-' : ''}${displayName(s.architecture)}`;
  if (s.kind === 'local-only' && s.hospital) return `hospital-${s.hospital.index + 1} alone`;
  if (s.kind === 'federated')
    return `${base} (${s.federation?.partition.scheme ?? ''}${s.classWeights === 'federation' ? ', federation weights' : ''})`;
  return `${base} b${s.settings.batchSize}`;
}

function curveSeries(
  results: ExperimentResult[],
  key: CurveKey,
  label: (r: ExperimentResult) => string,
): LineSeries[] {
  return results
    .map((r) => ({
      name: label(r),
      points: r.history
        .filter((h: ResultHistoryPoint) => typeof h[key] === 'number')
        .map((h): [number, number] => [h.epochs, h[key] as number]),
    }))
    .filter((s) => s.points.length > 0);
}

async function writeCharts(
  dir: string,
  name: string,
  title: string,
  results: ExperimentResult[],
  keys: CurveKey[],
  label: (r: ExperimentResult) => string = seriesLabel,
): Promise<string[]> {
  const files: string[] = [];
  for (const key of keys) {
    const series = curveSeries(results, key, label);
    if (series.length === 0) continue;
    const isAccuracy = key.endsWith('Accuracy');
    const what = `${key.startsWith('val') ? 'Validation' : 'Training'} ${isAccuracy ? 'accuracy' : 'loss'}`;
    const png = await renderLineChart({
      title: `${what}: ${title}`,
      xLabel: 'Epochs of training (a federated round = E local epochs)',
      yLabel: what,
      series,
      ...(isAccuracy ? { yRange: accuracyRange(series) } : {}),
      width: 900,
    });
    const file = `${name}-${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}.png`;
    await writeFileAtomic(join(dir, file), png);
    files.push(file);
  }
  return files;
}

function accuracyRange(series: LineSeries[]): [number, number] {
  const ys = series.flatMap((s) => s.points.map(([, y]) => y)).filter(Number.isFinite);
  if (ys.length === 0) return [0, 1];
  const lo = Math.max(0, Math.floor((Math.min(...ys) - 0.01) * 20) / 20);
  const hi = Math.min(1, Math.ceil((Math.max(...ys) + 0.01) * 20) / 20);
  return [lo, Math.max(hi, lo + 0.05)];
}

function images(files: string[]): string {
  return files.map((f) => `![${f}](${f})`).join('\n\n');
}

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
      parts.push(
        '## Per epoch or round',
        '',
        table(
          [
            'Experiment',
            'Step',
            'Epochs',
            'Train loss',
            'Train acc',
            'Val loss',
            'Val acc',
            'Val AUC',
            'Seconds',
          ],
          done.flatMap((r) =>
            r.history.map((h) => [
              seriesLabel(r),
              `${r.stepLabel} ${h.step}`,
              String(h.epochs),
              num(h.trainLoss),
              num(h.trainAccuracy),
              num(h.valLoss),
              num(h.valAccuracy),
              num(h.valAuc),
              num(h.seconds, 1),
            ]),
          ),
        ),
      );
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
