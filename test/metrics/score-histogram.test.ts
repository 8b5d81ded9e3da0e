import { describe, expect, it } from 'vitest';
import {
  histogramTotals,
  mergeScoreHistograms,
  scoreHistogram,
  thresholdFromHistogram,
} from '../../shared/metrics/score-histogram.ts';
import { computeMetrics } from '../../shared/metrics/evaluate.ts';

describe('scoreHistogram', () => {
  it('counts each class per bin, with 1.0 in the last bin', () => {
    const h = scoreHistogram([0, 0, 1, 1, 1], [0, 0.09, 0.1, 0.55, 1], 10);
    expect(h.negative).toEqual([2, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(h.positive).toEqual([0, 1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(histogramTotals(h)).toEqual({ positives: 3, negatives: 2 });
  });

  it('rejects scores outside [0, 1], bad labels and bad bin counts', () => {
    expect(() => scoreHistogram([1], [1.5], 10)).toThrow(RangeError);
    expect(() => scoreHistogram([2], [0.5], 10)).toThrow(RangeError);
    expect(() => scoreHistogram([1], [0.5], 1)).toThrow(RangeError);
    expect(() => scoreHistogram([1], [0.5], 2.5)).toThrow(RangeError);
  });
});

describe('mergeScoreHistograms', () => {
  it('sums the hospitals into the histogram of the pooled data', () => {
    const a = { labels: [0, 1, 1], probs: [0.2, 0.7, 0.95] };
    const b = { labels: [0, 0, 1], probs: [0.05, 0.6, 0.3] };
    const merged = mergeScoreHistograms([
      scoreHistogram(a.labels, a.probs, 20),
      scoreHistogram(b.labels, b.probs, 20),
    ]);
    expect(merged).toEqual(
      scoreHistogram([...a.labels, ...b.labels], [...a.probs, ...b.probs], 20),
    );
  });

  it('refuses mismatched bins, negative or fractional counts and nothing to merge', () => {
    const h = scoreHistogram([1], [0.5], 10);
    expect(() => mergeScoreHistograms([])).toThrow(RangeError);
    expect(() => mergeScoreHistograms([h, scoreHistogram([1], [0.5], 20)])).toThrow(/bins/);
    const negative = { ...h, negative: h.negative.map((c, i) => (i === 0 ? -1 : c)) };
    expect(() => mergeScoreHistograms([negative])).toThrow(/non-negative/);
    const short = { ...h, positive: h.positive.slice(1) };
    expect(() => mergeScoreHistograms([short])).toThrow(/counts/);
  });
});

describe('thresholdFromHistogram', () => {
  it('min-recall meets its target on the images behind the histogram', () => {
    // 100 positives spread over (0.05, 1), 100 negatives over (0, 0.6): a deterministic grid.
    const labels: number[] = [];
    const probs: number[] = [];
    for (let i = 0; i < 100; i++) {
      labels.push(1, 0);
      probs.push(0.05 + (0.949 * i) / 99, (0.6 * i) / 100);
    }
    for (const target of [0.8, 0.9, 0.97, 1]) {
      const choice = thresholdFromHistogram(scoreHistogram(labels, probs, 200), {
        kind: 'min-recall',
        recall: target,
      });
      // A bin edge: k / 200.
      expect(Math.abs(choice.threshold * 200 - Math.round(choice.threshold * 200))).toBeLessThan(
        1e-9,
      );
      const m = computeMetrics(labels, probs, { threshold: choice.threshold, bootstrapSamples: 0 });
      expect(m.recall.value).toBeGreaterThanOrEqual(target);
      expect(choice.rule).toBe(`min-recall:${target}`);
      expect(choice.description).toMatch(/200-bin score histogram/);
    }
  });

  it('min-recall takes the highest edge that keeps the target', () => {
    // Positives at 0.32, 0.64, 0.9; 10 bins. Recall 2/3 needs 0.64's bin edge 0.6.
    const h = scoreHistogram([1, 1, 1, 0], [0.32, 0.64, 0.9, 0.1], 10);
    expect(thresholdFromHistogram(h, { kind: 'min-recall', recall: 0.66 }).threshold).toBe(0.6);
    expect(thresholdFromHistogram(h, { kind: 'min-recall', recall: 1 }).threshold).toBeCloseTo(
      0.3,
      12,
    );
  });

  it('fixed ignores the data and an empty histogram is an error', () => {
    const h = scoreHistogram([1, 0], [0.9, 0.1], 10);
    expect(thresholdFromHistogram(h, { kind: 'fixed', value: 0.5 }).threshold).toBe(0.5);
    expect(() =>
      thresholdFromHistogram(scoreHistogram([], [], 10), { kind: 'fixed', value: 0.5 }),
    ).toThrow(/empty/);
  });
});
