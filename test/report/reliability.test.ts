// The reliability diagram: before, after and the diagonal, as SVG and PNG.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { calibrateTemperature, temperatureCurve } from '../../shared/metrics/index.ts';
import {
  reliabilityChartSpec,
  reliabilityChartSvg,
  writeReliabilityDiagram,
} from '../../shared/report/index.ts';
import { createRng } from '../../shared/util/random.ts';

function calibration() {
  const rng = createRng(4);
  const labels: number[] = [];
  const probabilities: number[] = [];
  for (let i = 0; i < 500; i++) {
    const z = 1.5 * rng.normal();
    labels.push(rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0);
    probabilities.push(1 / (1 + Math.exp(-3 * z)));
  }
  const fit = calibrateTemperature(temperatureCurve(labels, probabilities), { hospitals: 2 });
  if (!fit) throw new Error('no fit');
  return fit;
}

describe('the reliability diagram', () => {
  it('plots the non-empty bins before and after against the diagonal', () => {
    const fit = calibration();
    const spec = reliabilityChartSpec(fit);
    expect(spec.series.map((s) => s.name)).toEqual([
      'Perfect calibration',
      `Before (T = 1), ECE ${fit.eceBefore.toFixed(3)}`,
      `After (T = ${fit.afterTemperature.toFixed(2)}), ECE ${fit.eceAfter.toFixed(3)}`,
    ]);
    const nonEmpty = fit.reliabilityAfter.filter((b) => b.count > 0);
    expect(spec.series[2].points).toEqual(nonEmpty.map((b) => [b.meanProbability, b.positiveRate]));
    expect(spec.title).toContain('500 held-out images of 2 hospital(s)');
    expect(reliabilityChartSvg(fit)).toMatch(/^<svg[\s\S]*Perfect calibration[\s\S]*<\/svg>$/);
  });

  it('writes reliability.png', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fedxray-reliability-'));
    try {
      const path = await writeReliabilityDiagram(dir, calibration());
      expect(path).toBe(join(dir, 'reliability.png'));
      const meta = await sharp(path).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 800, 500]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
