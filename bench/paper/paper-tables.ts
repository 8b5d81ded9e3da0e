/**
 * The Table 2 and Table 3 sections of the reports: our results beside the paper's.
 */
import { displayName, type ExperimentSpec } from './experiments.ts';
import { PAPER_TABLE2, PAPER_TABLE3, PAPER_TEST_SET } from './paper-numbers.ts';
import { est, num, plural, table } from './report-format.ts';
import { usualCentralisedEpochs, type Row } from './report-rows.ts';

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
      ? "The paper's Table 2 values are not transcribed in bench/paper/paper-numbers.ts (PAPER_TABLE2), hence the dashes."
      : `Paper values: ${PAPER_TEST_SET}.`,
  ].join('\n');
}

function paperKey(spec: ExperimentSpec | undefined): string | undefined {
  return spec ? `${spec.kind}/${spec.architecture}` : undefined;
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
