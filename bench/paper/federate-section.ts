/**
 * The "why federate" section of the reports: each federation beside its hospitals alone and
 * the pooled model, with notes on skewed shares and federation-wide class weights.
 */
import { est, num, plural, table } from './report-format.ts';
import type { Row } from './report-rows.ts';
import { canonicalJson, type ExperimentResult } from './results.ts';

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
