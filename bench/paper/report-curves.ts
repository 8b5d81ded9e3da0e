/**
 * The curves of the reports: PNG charts of accuracy and loss per epoch or round, and the
 * per-step table of the curves group.
 */
import { join } from 'node:path';
import { renderLineChart, type LineSeries } from '../../shared/report/index.ts';
import { displayName } from './experiments.ts';
import { num, table } from './report-format.ts';
import { writeFileAtomic, type ExperimentResult, type ResultHistoryPoint } from './results.ts';

type CurveKey = 'valAccuracy' | 'valLoss' | 'trainAccuracy' | 'trainLoss';

export function seriesLabel(r: ExperimentResult): string {
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

export async function writeCharts(
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

export function images(files: string[]): string {
  return files.map((f) => `![${f}](${f})`).join('\n\n');
}

/** The curves group's table: every step of every result. */
export function historyTable(done: readonly ExperimentResult[]): string {
  return table(
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
  );
}
