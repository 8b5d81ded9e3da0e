import { describe, expect, it } from 'vitest';
import {
  bootstrapF1Auc,
  percentileInterval,
  quantileSorted,
} from '../../shared/metrics/bootstrap.ts';
import { rankScores, weightedAuc } from '../../shared/metrics/ranked.ts';
import { rocAuc } from '../../shared/metrics/roc.ts';
import { createRng } from '../../shared/util/random.ts';

describe('quantiles', () => {
  it('interpolates linearly (R type 7)', () => {
    expect(quantileSorted([1, 2, 3, 4, 5], 0.5)).toBe(3);
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantileSorted([10], 0.975)).toBe(10);
    const values = Array.from({ length: 101 }, (_, i) => 100 - i);
    const [lo, hi] = percentileInterval(values);
    expect(lo).toBeCloseTo(2.5, 12);
    expect(hi).toBeCloseTo(97.5, 12);
  });
});

describe('weightedAuc', () => {
  it('equals the AUC of the sample with each point repeated by its weight', () => {
    const rng = createRng(5);
    const labels = Array.from({ length: 40 }, () => (rng.next() < 0.4 ? 1 : 0));
    const probs = Array.from({ length: 40 }, () => Math.round(rng.next() * 10) / 10); // many ties
    const ranked = rankScores(labels, probs);
    const weights = Array.from({ length: 40 }, () => rng.int(3));
    const expandedLabels: number[] = [];
    const expandedProbs: number[] = [];
    for (let r = 0; r < 40; r++) {
      for (let k = 0; k < weights[r]; k++) {
        expandedLabels.push(ranked.positive[r]);
        expandedProbs.push(ranked.scores[r]);
      }
    }
    expect(weightedAuc(ranked, weights)).toBeCloseTo(
      rocAuc(expandedLabels, expandedProbs) ?? NaN,
      12,
    );
  });
});

describe('bootstrapF1Auc', () => {
  it('is fast enough for a few thousand samples', () => {
    const rng = createRng(9);
    const n = 5000;
    const labels = Array.from({ length: n }, () => (rng.next() < 0.6 ? 1 : 0));
    const probs = labels.map((y) =>
      Math.min(1, Math.max(0, 0.5 + (y - 0.5) * 0.4 + rng.normal() * 0.2)),
    );
    const start = performance.now();
    const ci = bootstrapF1Auc(rankScores(labels, probs), 0.5, 1000, 1);
    expect(performance.now() - start).toBeLessThan(5000);
    expect(ci.auc[0]).toBeLessThan(ci.auc[1]);
    expect(ci.f1[0]).toBeLessThan(ci.f1[1]);
  });

  it('returns [0, 1] when disabled or without data', () => {
    expect(bootstrapF1Auc(rankScores([], []), 0.5, 100, 1)).toEqual({ f1: [0, 1], auc: [0, 1] });
    expect(bootstrapF1Auc(rankScores([0, 1], [0.2, 0.8]), 0.5, 0, 1)).toEqual({
      f1: [0, 1],
      auc: [0, 1],
    });
  });
});
