import { describe, expect, it } from 'vitest';
import { rocAuc, rocCurve } from '../../shared/metrics/roc.ts';

describe('rocAuc', () => {
  it('computes the Mann-Whitney AUC', () => {
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBeCloseTo(0.75, 12);
  });

  it('counts ties as one half', () => {
    // Pairs: (0.5 vs 0.5) = 1/2, (0.5 vs 0.2) = 1, (0.9 vs both) = 2 -> 3.5 / 4.
    expect(rocAuc([1, 1, 0, 0], [0.5, 0.9, 0.5, 0.2])).toBeCloseTo(3.5 / 4, 12);
    expect(rocAuc([1, 0, 1, 0], [0.3, 0.3, 0.3, 0.3])).toBe(0.5);
  });

  it('is 1 for perfect, 0 for inverted and undefined without both classes', () => {
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])).toBe(1);
    expect(rocAuc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9])).toBe(0);
    expect(rocAuc([1, 1], [0.1, 0.2])).toBeUndefined();
    expect(rocAuc([], [])).toBeUndefined();
  });
});

describe('rocCurve', () => {
  it('goes from (0,0) to (1,1) with one point per distinct score', () => {
    const points = rocCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]);
    expect(points).toEqual([
      { fpr: 0, tpr: 0, threshold: 1 },
      { fpr: 0, tpr: 0.5, threshold: 0.8 },
      { fpr: 0.5, tpr: 0.5, threshold: 0.4 },
      { fpr: 0.5, tpr: 1, threshold: 0.35 },
      { fpr: 1, tpr: 1, threshold: 0.1 },
    ]);
  });

  it('keeps thresholds JSON-safe when a score is 1 and merges ties', () => {
    const points = rocCurve([1, 0, 1], [1, 0.5, 0.5]);
    expect(points).toHaveLength(3);
    expect(points[0].threshold).toBeGreaterThan(1);
    expect(Number.isFinite(points[0].threshold)).toBe(true);
    expect(points[2]).toEqual({ fpr: 1, tpr: 1, threshold: 0.5 });
  });

  it('trapezoidal area under the curve equals the Mann-Whitney AUC', () => {
    const labels = [1, 0, 1, 1, 0, 0, 1, 0, 1, 0];
    const probs = [0.9, 0.9, 0.7, 0.6, 0.6, 0.3, 0.3, 0.3, 0.1, 0.05];
    const points = rocCurve(labels, probs);
    let area = 0;
    for (let i = 1; i < points.length; i++) {
      area += ((points[i].fpr - points[i - 1].fpr) * (points[i].tpr + points[i - 1].tpr)) / 2;
    }
    expect(area).toBeCloseTo(rocAuc(labels, probs) ?? NaN, 12);
  });

  it('returns no points for no data', () => {
    expect(rocCurve([], [])).toEqual([]);
  });
});
