import { describe, expect, it } from 'vitest';
import { computeMetrics } from '../../shared/metrics/evaluate.ts';
import { confusionMatrix } from '../../shared/metrics/confusion.ts';
import { formatReportTable } from '../../shared/metrics/format.ts';
import { createRng } from '../../shared/util/random.ts';

// 4 positives, 6 negatives; at threshold 0.5: TP 3, FN 1 (0.3), FP 2 (0.7, 0.55), TN 4.
const labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0];
const probs = [0.9, 0.8, 0.6, 0.3, 0.7, 0.2, 0.1, 0.4, 0.05, 0.55];

describe('confusionMatrix', () => {
  it('counts predicted positive iff probability >= threshold', () => {
    expect(confusionMatrix(labels, probs, 0.5)).toEqual({ tp: 3, fp: 2, tn: 4, fn: 1 });
    expect(confusionMatrix([1, 0], [0.5, 0.5], 0.5)).toEqual({ tp: 1, fp: 1, tn: 0, fn: 0 });
  });

  it('rejects bad inputs', () => {
    expect(() => confusionMatrix([1, 0], [0.5], 0.5)).toThrow(/length/);
    expect(() => confusionMatrix([2], [0.5], 0.5)).toThrow(/label/);
    expect(() => confusionMatrix([1], [NaN], 0.5)).toThrow(/finite/);
  });
});

describe('computeMetrics', () => {
  const report = computeMetrics(labels, probs, { threshold: 0.5, bootstrapSamples: 500, seed: 7 });

  it('computes exact point values from a hand-checked confusion matrix', () => {
    expect(report.n).toBe(10);
    expect(report.threshold).toBe(0.5);
    expect(report.confusion).toEqual({ tp: 3, fp: 2, tn: 4, fn: 1 });
    expect(report.accuracy.value).toBeCloseTo(0.7, 12);
    expect(report.precision.value).toBeCloseTo(3 / 5, 12);
    expect(report.recall.value).toBeCloseTo(3 / 4, 12);
    expect(report.specificity.value).toBeCloseTo(4 / 6, 12);
    expect(report.f1.value).toBeCloseTo(6 / 9, 12);
    // Positive-over-negative pairs: 6 + 6 + 5 + 3 = 20 of 24.
    expect(report.auc.value).toBeCloseTo(20 / 24, 12);
  });

  it('gives intervals that contain the point estimates and lie in [0, 1]', () => {
    for (const key of ['accuracy', 'precision', 'recall', 'specificity', 'f1', 'auc'] as const) {
      const { value, ci95 } = report[key];
      expect(ci95[0]).toBeGreaterThanOrEqual(0);
      expect(ci95[1]).toBeLessThanOrEqual(1);
      expect(ci95[0]).toBeLessThanOrEqual(value + 1e-12);
      expect(ci95[1]).toBeGreaterThanOrEqual(value - 1e-12);
    }
    // Wilson for 7/10.
    expect(report.accuracy.ci95[0]).toBeCloseTo(0.3968, 4);
    expect(report.accuracy.ci95[1]).toBeCloseTo(0.8922, 4);
    expect(report.ciMethod).toMatch(/Wilson.*bootstrap.*500.*seed 7/);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = computeMetrics(labels, probs, { threshold: 0.5, seed: 42 });
    const b = computeMetrics(labels, probs, { threshold: 0.5, seed: 42 });
    const c = computeMetrics(labels, probs, { threshold: 0.5, seed: 43 });
    expect(a).toEqual(b);
    expect([a.f1.ci95, a.auc.ci95]).not.toEqual([c.f1.ci95, c.auc.ci95]);
  });

  it('handles a perfect classifier', () => {
    const r = computeMetrics([0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.3, 0.7, 0.8, 0.9], {
      threshold: 0.5,
      seed: 1,
    });
    expect(r.confusion).toEqual({ tp: 3, fp: 0, tn: 3, fn: 0 });
    for (const key of ['accuracy', 'precision', 'recall', 'specificity', 'f1', 'auc'] as const) {
      expect(r[key].value).toBe(1);
      expect(r[key].ci95[1]).toBe(1);
    }
    expect(r.auc.ci95).toEqual([1, 1]);
  });

  it('puts a random classifier near AUC 0.5 with a covering interval', () => {
    const rng = createRng(123);
    const n = 2000;
    const y = Array.from({ length: n }, () => (rng.next() < 0.5 ? 1 : 0));
    const p = Array.from({ length: n }, () => rng.next());
    const r = computeMetrics(y, p, { threshold: 0.5, bootstrapSamples: 300, seed: 3 });
    expect(Math.abs(r.auc.value - 0.5)).toBeLessThan(0.04);
    expect(r.auc.ci95[0]).toBeLessThan(0.5);
    expect(r.auc.ci95[1]).toBeGreaterThan(0.5);
    expect(r.auc.ci95[1] - r.auc.ci95[0]).toBeLessThan(0.1);
    expect(Math.abs(r.accuracy.value - 0.5)).toBeLessThan(0.04);
  });

  it('reports undefined ratios as 0 with [0, 1] and stays valid JSON', () => {
    // Only negatives, none predicted positive: precision, recall, F1, AUC undefined.
    const r = computeMetrics([0, 0, 0], [0.1, 0.2, 0.3], { threshold: 0.5 });
    expect(r.precision).toEqual({ value: 0, ci95: [0, 1] });
    expect(r.recall).toEqual({ value: 0, ci95: [0, 1] });
    expect(r.f1).toEqual({ value: 0, ci95: [0, 1] });
    expect(r.auc).toEqual({ value: 0, ci95: [0, 1] });
    expect(r.specificity.value).toBe(1);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);

    const empty = computeMetrics([], [], { threshold: 0.5 });
    expect(empty.n).toBe(0);
    expect(empty.accuracy).toEqual({ value: 0, ci95: [0, 1] });
    expect(JSON.stringify(empty)).not.toMatch(/null|NaN/);
  });

  it('with bootstrapSamples 0 reports [0, 1] for F1 and AUC', () => {
    const r = computeMetrics(labels, probs, { threshold: 0.5, bootstrapSamples: 0 });
    expect(r.f1.ci95).toEqual([0, 1]);
    expect(r.auc.ci95).toEqual([0, 1]);
    expect(r.auc.value).toBeCloseTo(20 / 24, 12);
  });

  it('rejects a non-finite threshold or a bad sample count', () => {
    expect(() => computeMetrics(labels, probs, { threshold: NaN })).toThrow(RangeError);
    expect(() => computeMetrics(labels, probs, { threshold: 0.5, bootstrapSamples: -1 })).toThrow(
      RangeError,
    );
  });
});

describe('formatReportTable', () => {
  it('renders a Markdown table with every metric and the confusion matrix', () => {
    const text = formatReportTable(computeMetrics(labels, probs, { threshold: 0.5, seed: 1 }));
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^\| Metric +\| +Value \| +95% CI \|$/);
    expect(lines[1]).toMatch(/^\|-+\|-+:\|-+:\|$/);
    expect(text).toContain('| Accuracy ');
    expect(text).toMatch(/\| Recall \(sensitivity\) \| 0\.7500 \| \[0\.\d{4}, 0\.\d{4}\] \|/);
    expect(text).toContain('TP = 3, FP = 2, TN = 4, FN = 1');
    // All table rows are the same width.
    const widths = new Set(lines.slice(0, 8).map((l) => l.length));
    expect(widths.size).toBe(1);
  });
});
