import { describe, expect, it } from 'vitest';
import { confusionMatrix } from '../../shared/metrics/confusion.ts';
import { thresholdForTarget } from '../../shared/metrics/target-threshold.ts';

// Negatives 0.1 0.2 0.3 0.45, positives 0.4 0.6 0.7 0.8.
const labels = [0, 0, 0, 0, 1, 1, 1, 1];
const probs = [0.1, 0.2, 0.3, 0.45, 0.4, 0.6, 0.7, 0.8];

function rates(threshold: number): { sensitivity: number; specificity: number } {
  const { tp, fp, tn, fn } = confusionMatrix(labels, probs, threshold);
  return { sensitivity: tp / (tp + fn), specificity: tn / (tn + fp) };
}

describe('thresholdForTarget', () => {
  it('sensitivity: the highest threshold reaching it (the min-recall rule)', () => {
    const found = thresholdForTarget(labels, probs, { metric: 'sensitivity', value: 0.75 });
    expect(found).toMatchObject({ reached: true, threshold: 0.6 });
    expect(rates(0.6).sensitivity).toBe(0.75);
    expect(rates(0.61).sensitivity).toBeLessThan(0.75);
    expect(thresholdForTarget(labels, probs, { metric: 'sensitivity', value: 1 })).toMatchObject({
      threshold: 0.4,
    });
  });

  it('specificity: the lowest threshold reaching it, just above a NORMAL score', () => {
    const found = thresholdForTarget(labels, probs, { metric: 'specificity', value: 0.75 });
    if (!found.reached) throw new Error(found.reason);
    expect(found.threshold).toBeGreaterThan(0.3);
    expect(found.threshold).toBeLessThan(0.3 + 1e-15);
    expect(rates(found.threshold).specificity).toBe(0.75);
    expect(rates(0.3).specificity).toBe(0.5);
    const all = thresholdForTarget(labels, probs, { metric: 'specificity', value: 1 });
    if (!all.reached) throw new Error(all.reason);
    expect(rates(all.threshold)).toEqual({ sensitivity: 0.75, specificity: 1 });
  });

  it('says why a target cannot be reached', () => {
    expect(thresholdForTarget([0, 0], [0.2, 0.3], { metric: 'sensitivity', value: 0.9 })).toEqual({
      reached: false,
      reason: expect.stringMatching(/no PNEUMONIA images/),
    });
    expect(thresholdForTarget([1, 0], [0.2, 1], { metric: 'specificity', value: 1 })).toEqual({
      reached: false,
      reason: expect.stringMatching(/score 1/),
    });
    expect(() => thresholdForTarget(labels, probs, { metric: 'sensitivity', value: 0 })).toThrow(
      RangeError,
    );
    expect(() => thresholdForTarget([0], [1.5], { metric: 'specificity', value: 0.5 })).toThrow(
      RangeError,
    );
  });

  it('reaches specificity at a NORMAL score of 0', () => {
    const found = thresholdForTarget([0, 1], [0, 0.5], { metric: 'specificity', value: 1 });
    expect(found).toMatchObject({ reached: true, threshold: Number.MIN_VALUE });
  });
});
