// Temperature scaling from summed NLL curves: the fit recovers a known temperature, never
// makes the NLL worse, and the hospitals' sums add up to the pooled curve.
import { Value } from '@sinclair/typebox/value';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  calibrateTemperature,
  curveProblem,
  expectedCalibrationError,
  fitTemperature,
  mergeTemperatureCurves,
  reliabilityAt,
  RELIABILITY_BINS,
  TEMPERATURE_GRID,
  temperatureCurve,
  temperProbability,
  type TemperatureCalibration,
} from '../../shared/metrics/index.ts';
import {
  TemperatureCalibrationSchema,
  type StoredTemperatureCalibration,
} from '../../shared/protocol/calibration.ts';
import { TemperatureCurveSchema } from '../../shared/protocol/evaluation.ts';
import { createRng } from '../../shared/util/random.ts';

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * Labels drawn from a calibrated model's probabilities sigmoid(z), z ~ N(0, 1.5^2), and the
 * probabilities of a model whose logits are `scale` times too large: its best temperature is
 * `scale`.
 */
function overconfident(n: number, scale: number, seed = 7) {
  const rng = createRng(seed);
  const labels: number[] = [];
  const probabilities: number[] = [];
  for (let i = 0; i < n; i++) {
    const z = 1.5 * rng.normal();
    labels.push(rng.next() < sigmoid(z) ? 1 : 0);
    probabilities.push(sigmoid(scale * z));
  }
  return { labels, probabilities };
}

describe('temperature scaling', () => {
  it('has T = 1 exactly on its grid, from 0.25 to 4', () => {
    expect(TEMPERATURE_GRID).toHaveLength(81);
    expect(TEMPERATURE_GRID[0]).toBe(0.25);
    expect(TEMPERATURE_GRID[40]).toBe(1);
    expect(TEMPERATURE_GRID[80]).toBe(4);
  });

  it.each([3, 0.5, 1.7])('recovers a known temperature %s within 5%', (scale) => {
    const { labels, probabilities } = overconfident(20_000, scale);
    const fit = fitTemperature(temperatureCurve(labels, probabilities));
    expect(fit.atEdge).toBe(false);
    expect(Math.abs(fit.temperature / scale - 1)).toBeLessThan(0.05);
  });

  it('lowers the NLL and the ECE of an overconfident model, never raises the NLL', () => {
    for (const [scale, seed] of [
      [3, 1],
      [1, 2],
      [0.6, 3],
    ]) {
      const { labels, probabilities } = overconfident(2_000, scale, seed);
      const calibration = calibrateTemperature(temperatureCurve(labels, probabilities), {
        hospitals: 1,
      });
      expect(calibration).not.toBeNull();
      if (!calibration) continue;
      expect(calibration.nllAfter).toBeLessThanOrEqual(calibration.nllBefore);
      expect(calibration.basis).toMatchObject({ hospitals: 1, images: 2_000, excluded: [] });
      if (scale === 3) {
        expect(calibration.eceAfter).toBeLessThan(calibration.eceBefore);
        expect(calibration.eceAfter).toBeLessThan(calibration.eceBefore / 2);
      }
      // The "after" figures are at the grid point nearest the refined temperature.
      const step = Math.log(TEMPERATURE_GRID[1] / TEMPERATURE_GRID[0]);
      expect(
        Math.abs(Math.log(calibration.afterTemperature / calibration.temperature)),
      ).toBeLessThanOrEqual(step / 2 + 1e-12);
    }
  });

  it('matches the NLL and reliability computed image by image', () => {
    const { labels, probabilities } = overconfident(300, 2, 11);
    const curve = temperatureCurve(labels, probabilities);
    const t = 55;
    const T = TEMPERATURE_GRID[t];
    const tempered = probabilities.map((p) => temperProbability(p, T));
    const nll = labels.reduce(
      (sum, y, i) => sum - Math.log(y === 1 ? tempered[i] : 1 - tempered[i]),
      0,
    );
    expect(curve.nll[t]).toBeCloseTo(nll, 6);
    const bins = reliabilityAt(curve, t);
    const third = tempered.filter((q) => q >= 0.3 && q < 0.4);
    expect(bins[3].count).toBe(third.length);
    expect(bins[3].meanProbability).toBeCloseTo(
      third.reduce((a, b) => a + b, 0) / third.length,
      10,
    );
    expect(bins.reduce((s, b) => s + b.count, 0)).toBe(300);
  });

  it('pools hospitals by adding their sums, and the shape holds only sums', () => {
    const all = overconfident(900, 2.5, 5);
    const parts = [0, 300, 600].map((start) =>
      temperatureCurve(
        all.labels.slice(start, start + 300),
        all.probabilities.slice(start, start + 300),
      ),
    );
    const pooled = mergeTemperatureCurves(parts);
    const whole = temperatureCurve(all.labels, all.probabilities);
    pooled.nll.forEach((x, t) => expect(x).toBeCloseTo(whole.nll[t], 6));
    expect(pooled.count).toEqual(whole.count);
    expect(pooled.positives).toEqual(whole.positives);
    // No array as long as the images: 81 sums and 81 x 10 bins, whatever n is.
    const curve = parts[0];
    expect(curve.nll).toHaveLength(81);
    for (const rows of [curve.count, curve.probabilitySum, curve.positives]) {
      expect(rows).toHaveLength(81);
      for (const row of rows) expect(row).toHaveLength(RELIABILITY_BINS);
    }
  });

  it('says why a malformed curve cannot be pooled', () => {
    const { labels, probabilities } = overconfident(50, 2, 3);
    const good = temperatureCurve(labels, probabilities);
    const expected = { temperatures: TEMPERATURE_GRID, bins: RELIABILITY_BINS, images: 50 };
    expect(curveProblem(good, expected)).toBeNull();
    expect(curveProblem(good, { ...expected, images: 51 })).toMatch(/counts 50 images/);
    expect(curveProblem({ ...good, nll: good.nll.slice(1) }, expected)).toMatch(/temperature/);
    expect(curveProblem({ ...good, nll: [...good.nll.slice(1), -1] }, expected)).toMatch(
      /non-negative/,
    );
    expect(curveProblem({ ...good, temperatures: good.temperatures.slice(1) }, expected)).toMatch(
      /grid/,
    );
    const positives = good.positives.map((row) => row.map((x) => x + 100));
    expect(curveProblem({ ...good, positives }, expected)).toMatch(/do not add up/);
  });

  it('changes nothing on a curve without information', () => {
    const curve = temperatureCurve([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]);
    expect(fitTemperature(curve)).toEqual({ temperature: 1, index: 40, atEdge: false });
    expect(calibrateTemperature(temperatureCurve([], []), { hospitals: 0 })).toBeNull();
  });

  it('answers and stores the shapes of the protocol schemas', () => {
    expectTypeOf<StoredTemperatureCalibration>().toEqualTypeOf<TemperatureCalibration>();
    const { labels, probabilities } = overconfident(200, 2, 9);
    const curve = temperatureCurve(labels, probabilities);
    expect(Value.Check(TemperatureCurveSchema, JSON.parse(JSON.stringify(curve)))).toBe(true);
    const calibration = calibrateTemperature(curve, { hospitals: 1 });
    expect(Value.Check(TemperatureCalibrationSchema, JSON.parse(JSON.stringify(calibration)))).toBe(
      true,
    );
  });

  it('tempers probabilities monotonically and keeps p at T = 1', () => {
    expect(temperProbability(0.8, 1)).toBe(0.8);
    expect(temperProbability(0.5, 3)).toBeCloseTo(0.5, 12);
    expect(temperProbability(0.9, 2)).toBeCloseTo(sigmoid(Math.log(9) / 2), 12);
    expect(temperProbability(1, 2)).toBeLessThan(1);
    expect(() => temperProbability(0.5, 0)).toThrow(RangeError);
    expect(expectedCalibrationError([])).toBe(0);
  });
});
