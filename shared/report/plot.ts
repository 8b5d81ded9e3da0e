import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { buildLineChartSvg, type LineChartSpec, type LineSeries } from './line-chart-svg.ts';

export type { LineChartSpec, LineSeries } from './line-chart-svg.ts';

/** Renders the chart as PNG bytes (SVG rasterised by sharp/librsvg with the system fonts). */
export async function renderLineChart(spec: LineChartSpec): Promise<Buffer> {
  return sharp(Buffer.from(buildLineChartSvg(spec)))
    .png()
    .toBuffer();
}

/** One epoch (centralised) or round (federated) of training history. */
export interface HistoryPoint {
  step: number;
  trainLoss?: number;
  trainAccuracy?: number;
  valLoss?: number;
  valAccuracy?: number;
  valAuc?: number;
}

/**
 * Writes accuracy.png (training/validation accuracy, and validation AUC when present) and
 * loss.png (training/validation loss) per epoch or round into `dir`; returns their paths.
 */
export async function writeTrainingPlots(
  dir: string,
  history: readonly HistoryPoint[],
  stepLabel: 'epoch' | 'round',
): Promise<{ accuracy: string; loss: string }> {
  const xLabel = stepLabel === 'epoch' ? 'Epoch' : 'Round';
  const pick = (name: string, key: Exclude<keyof HistoryPoint, 'step'>): LineSeries[] => {
    // A missing value (not evaluated that step) is skipped; a NaN (diverged) breaks the line.
    const points = history.flatMap((h): [number, number][] => {
      const value = h[key];
      return typeof value === 'number' ? [[h.step, value]] : [];
    });
    return points.some(([, y]) => Number.isFinite(y)) ? [{ name, points }] : [];
  };

  const accuracySeries = [
    ...pick('Training accuracy', 'trainAccuracy'),
    ...pick('Validation accuracy', 'valAccuracy'),
    ...pick('Validation AUC', 'valAuc'),
  ];
  const lossSeries = [...pick('Training loss', 'trainLoss'), ...pick('Validation loss', 'valLoss')];

  const paths = { accuracy: join(dir, 'accuracy.png'), loss: join(dir, 'loss.png') };
  const [accuracyPng, lossPng] = await Promise.all([
    renderLineChart({
      title: `Accuracy per ${stepLabel}`,
      xLabel,
      yLabel: 'Accuracy',
      series: accuracySeries,
      yRange: unitRange(accuracySeries),
    }),
    renderLineChart({ title: `Loss per ${stepLabel}`, xLabel, yLabel: 'Loss', series: lossSeries }),
  ]);
  await mkdir(dir, { recursive: true });
  await writeFile(paths.accuracy, accuracyPng);
  await writeFile(paths.loss, lossPng);
  return paths;
}

/** A y range inside [0, 1] that zooms on the data, in steps of 0.05. */
function unitRange(series: LineSeries[]): [number, number] {
  const ys = series.flatMap((s) => s.points.map(([, y]) => y)).filter(Number.isFinite);
  if (ys.length === 0) return [0, 1];
  const lo = Math.max(0, Math.floor((Math.min(...ys) - 0.01) * 20) / 20);
  const hi = Math.min(1, Math.ceil((Math.max(...ys) + 0.01) * 20) / 20);
  return [lo, Math.max(hi, lo + 0.05)];
}
