/**
 * The reliability diagram of a temperature scaling: per bin of P(PNEUMONIA), the share of
 * PNEUMONIA against the bin's mean probability, before (T = 1) and after, with the diagonal
 * of perfect calibration. A line chart of shared/report/line-chart-svg.ts.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReliabilityBin, TemperatureCalibration } from '../metrics/index.ts';
import { buildLineChartSvg, type LineChartSpec } from './line-chart-svg.ts';
import { renderLineChart } from './plot.ts';

export const RELIABILITY_FILE = 'reliability.png';

function points(bins: readonly ReliabilityBin[]): [number, number][] {
  return bins.flatMap((b): [number, number][] =>
    b.meanProbability === null || b.positiveRate === null
      ? []
      : [[b.meanProbability, b.positiveRate]],
  );
}

export function reliabilityChartSpec(calibration: TemperatureCalibration): LineChartSpec {
  const { basis } = calibration;
  return {
    title: `Reliability on ${basis.images} held-out images of ${basis.hospitals} hospital(s)`,
    xLabel: 'Mean predicted P(PNEUMONIA) in the bin',
    yLabel: 'Share of PNEUMONIA in the bin',
    yRange: [0, 1],
    series: [
      {
        name: 'Perfect calibration',
        points: [
          [0, 0],
          [1, 1],
        ],
      },
      {
        name: `Before (T = 1), ECE ${calibration.eceBefore.toFixed(3)}`,
        points: points(calibration.reliabilityBefore),
      },
      {
        name: `After (T = ${calibration.afterTemperature.toFixed(2)}), ECE ${calibration.eceAfter.toFixed(3)}`,
        points: points(calibration.reliabilityAfter),
      },
    ],
  };
}

/** The diagram as SVG text (what a service can answer as image/svg+xml). */
export function reliabilityChartSvg(calibration: TemperatureCalibration): string {
  return buildLineChartSvg(reliabilityChartSpec(calibration));
}

/** Writes reliability.png into `dir`; returns its path. */
export async function writeReliabilityDiagram(
  dir: string,
  calibration: TemperatureCalibration,
): Promise<string> {
  const path = join(dir, RELIABILITY_FILE);
  await mkdir(dir, { recursive: true });
  await writeFile(path, await renderLineChart(reliabilityChartSpec(calibration)));
  return path;
}
