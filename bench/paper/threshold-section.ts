/**
 * The operating-point section of the reports: recall of the federation at the fixed 0.5 and at
 * the threshold its hospitals' held-out splits gave, beside the paper's federated row.
 */
import type { EvaluationReport } from '../../shared/metrics/index.ts';
import { PAPER_TABLE3, PAPER_TEST_SET } from './paper-numbers.ts';
import { est, num, plural, table } from './report-format.ts';
import { rowTitle, type Row } from './report-rows.ts';

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
