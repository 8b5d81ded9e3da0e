import { describe, expect, it } from 'vitest';
import { probabilisticScores } from '../../shared/metrics/index.ts';

describe('probabilisticScores', () => {
  it('computes log-loss, Brier score and ECE by their definitions', () => {
    const labels = [1, 0, 1, 0];
    const p = [0.9, 0.2, 0.6, 0.7];
    const s = probabilisticScores(labels, p, { bootstrapSamples: 0 });
    const expectedLogLoss = -(Math.log(0.9) + Math.log(0.8) + Math.log(0.6) + Math.log(0.3)) / 4;
    expect(s.logLoss.value).toBeCloseTo(expectedLogLoss, 12);
    expect(s.brier.value).toBeCloseTo((0.01 + 0.04 + 0.16 + 0.49) / 4, 12);
    // Confidences 0.9, 0.8, 0.6, 0.7 fall in four different bins; correct, correct, correct, wrong.
    expect(s.ece.value).toBeCloseTo((0.1 + 0.2 + 0.4 + 0.7) / 4, 12);
    expect(s.ece.ci95).toEqual([s.ece.value, s.ece.value]);
  });

  it('tells two models apart that have the same perfect AUC', () => {
    const labels = [0, 0, 1, 1];
    const sharp = probabilisticScores(labels, [0.02, 0.05, 0.95, 0.98], { bootstrapSamples: 0 });
    const timid = probabilisticScores(labels, [0.45, 0.48, 0.52, 0.55], { bootstrapSamples: 0 });
    expect(sharp.logLoss.value).toBeLessThan(timid.logLoss.value);
    expect(sharp.brier.value).toBeLessThan(timid.brier.value);
    expect(sharp.ece.value).toBeLessThan(timid.ece.value);
  });

  it('keeps a sure mistake finite and gives seeded bootstrap intervals around the value', () => {
    const labels = [1, 0, 1, 1, 0, 0, 1, 0];
    const p = [0, 0.1, 0.8, 0.7, 0.3, 0.6, 0.9, 0.2];
    const a = probabilisticScores(labels, p, { bootstrapSamples: 200, seed: 7 });
    const b = probabilisticScores(labels, p, { bootstrapSamples: 200, seed: 7 });
    expect(a).toEqual(b);
    expect(Number.isFinite(a.logLoss.value)).toBe(true);
    for (const e of [a.logLoss, a.brier, a.ece]) {
      expect(e.ci95[0]).toBeLessThanOrEqual(e.value);
      expect(e.ci95[1]).toBeGreaterThanOrEqual(e.value);
      expect(e.ci95[1]).toBeGreaterThan(e.ci95[0]);
    }
  });

  it('refuses mismatched lengths, bad labels and probabilities outside [0, 1]', () => {
    expect(() => probabilisticScores([1], [0.5, 0.5])).toThrow(RangeError);
    expect(() => probabilisticScores([2], [0.5])).toThrow(RangeError);
    expect(() => probabilisticScores([1], [1.5])).toThrow(RangeError);
    expect(() => probabilisticScores([], [])).toThrow(RangeError);
  });
});
