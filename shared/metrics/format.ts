import type { Estimate, EvaluationReport } from './types.ts';

/** A Markdown table (readable as plain text) of the report's estimates and confusion matrix. */
export function formatReportTable(report: EvaluationReport, digits = 4): string {
  const rows: [string, Estimate][] = [
    ['Accuracy', report.accuracy],
    ['Precision', report.precision],
    ['Recall (sensitivity)', report.recall],
    ['Specificity', report.specificity],
    ['F1', report.f1],
    ['ROC AUC', report.auc],
  ];
  const cells = rows.map(([name, e]) => [
    name,
    e.value.toFixed(digits),
    `[${e.ci95[0].toFixed(digits)}, ${e.ci95[1].toFixed(digits)}]`,
  ]);
  const header = ['Metric', 'Value', '95% CI'];
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c].length)));
  const line = (row: string[]): string =>
    `| ${row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  const { tp, fp, tn, fn } = report.confusion;
  return [
    line(header),
    rule,
    ...cells.map(line),
    '',
    `n = ${report.n}, threshold = ${report.threshold}; TP = ${tp}, FP = ${fp}, TN = ${tn}, FN = ${fn}`,
    `CI: ${report.ciMethod}`,
  ].join('\n');
}
