import { describe, expect, it } from 'vitest';
import {
  chooseThreshold,
  formatThresholdRule,
  parseThresholdRule,
  type ThresholdRule,
} from '../../shared/metrics/threshold.ts';

const labels = [0, 0, 0, 0, 1, 1, 1, 1];

describe('chooseThreshold', () => {
  it('fixed returns the value', () => {
    const c = chooseThreshold(labels, [0, 0, 0, 0, 1, 1, 1, 1], { kind: 'fixed', value: 0.3 });
    expect(c).toMatchObject({ threshold: 0.3, rule: 'fixed:0.3' });
    expect(() => chooseThreshold([], [], { kind: 'fixed', value: NaN })).toThrow(RangeError);
  });

  it('youden maximises sensitivity + specificity - 1', () => {
    // Negatives 0.1 0.2 0.3 0.45, positives 0.4 0.6 0.7 0.8.
    // Threshold in (0.45, 0.6]: sens 3/4, spec 1 -> J 0.75; in (0.3, 0.4]: sens 1, spec 3/4 -> 0.75.
    // Tie: (0.3, 0.4] offers at most 0.4, (0.45, 0.6] offers 0.5 -> 0.5 wins.
    const probs = [0.1, 0.2, 0.3, 0.45, 0.4, 0.6, 0.7, 0.8];
    const c = chooseThreshold(labels, probs, { kind: 'youden' });
    expect(c.threshold).toBe(0.5);
    expect(c.rule).toBe('youden');
    expect(c.description).toMatch(/J = 0\.75/);
  });

  it('youden picks the unique best interval and stays off the lower score', () => {
    // Perfect split with a gap entirely above 0.5: (0.7, 0.9] -> midpoint 0.8 is the closest allowed to 0.5.
    const probs = [0.55, 0.6, 0.65, 0.7, 0.9, 0.92, 0.95, 0.99];
    expect(chooseThreshold(labels, probs, { kind: 'youden' }).threshold).toBeCloseTo(0.8, 12);
    // Gap entirely below 0.5: (0.1, 0.2] -> upper end 0.2.
    const low = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.35, 0.4];
    expect(chooseThreshold(labels, low, { kind: 'youden' }).threshold).toBe(0.2);
    // Gap containing 0.5 -> 0.5.
    const wide = [0.01, 0.02, 0.05, 0.1, 0.9, 0.92, 0.95, 0.99];
    expect(chooseThreshold(labels, wide, { kind: 'youden' }).threshold).toBe(0.5);
  });

  it('youden falls back to 0.5 when a class is absent', () => {
    const c = chooseThreshold([1, 1], [0.2, 0.9], { kind: 'youden' });
    expect(c.threshold).toBe(0.5);
    expect(c.description).toMatch(/absent/);
  });

  it('min-recall returns the highest threshold reaching the target recall', () => {
    const probs = [0.1, 0.2, 0.3, 0.45, 0.4, 0.6, 0.7, 0.8];
    // Recall 0.75 needs 3 of 4 positives -> 3rd-highest positive score 0.6.
    expect(chooseThreshold(labels, probs, { kind: 'min-recall', recall: 0.75 }).threshold).toBe(
      0.6,
    );
    // 0.76 needs all 4 -> 0.4.
    expect(chooseThreshold(labels, probs, { kind: 'min-recall', recall: 0.76 }).threshold).toBe(
      0.4,
    );
    expect(chooseThreshold(labels, probs, { kind: 'min-recall', recall: 1 }).threshold).toBe(0.4);
    expect(chooseThreshold(labels, probs, { kind: 'min-recall', recall: 0.25 }).threshold).toBe(
      0.8,
    );
    const c = chooseThreshold(labels, probs, { kind: 'min-recall', recall: 0.75 });
    expect(c.rule).toBe('min-recall:0.75');
    expect(c.description).toMatch(/recall 0\.75, specificity 1\b/);
    expect(() => chooseThreshold(labels, probs, { kind: 'min-recall', recall: 0 })).toThrow(
      RangeError,
    );
  });

  it('min-recall avoids floating error in target * positives', () => {
    // 0.95 * 20 = 19.000000000000004 must still need 19 positives, not 20.
    const y = [...Array<number>(20).fill(1), 0];
    const p = [...Array.from({ length: 20 }, (_, i) => (i + 1) / 100), 0.5];
    expect(chooseThreshold(y, p, { kind: 'min-recall', recall: 0.95 }).threshold).toBe(0.02);
  });

  it('youden-shrunk moves the Youden threshold towards 0.5 and clamps', () => {
    const probs = [0.55, 0.6, 0.65, 0.7, 0.9, 0.92, 0.95, 0.99]; // youden 0.8
    const half = chooseThreshold(labels, probs, { kind: 'youden-shrunk', weight: 0.5 });
    expect(half.threshold).toBeCloseTo(0.65, 12);
    expect(half.rule).toBe('youden-shrunk:0.5');
    expect(chooseThreshold(labels, probs, { kind: 'youden-shrunk', weight: 0 }).threshold).toBe(
      0.5,
    );
    const full = chooseThreshold(labels, probs, { kind: 'youden-shrunk', weight: 1 });
    expect(full.threshold).toBeCloseTo(0.8, 12);
    // Youden 0.995 would be outside [0.05, 0.95].
    const extreme = [0.9, 0.95, 0.97, 0.99, 1, 1, 1, 1];
    expect(chooseThreshold(labels, extreme, { kind: 'youden' }).threshold).toBeCloseTo(0.995, 12);
    const clamped = chooseThreshold(labels, extreme, { kind: 'youden-shrunk', weight: 1 });
    expect(clamped.threshold).toBe(0.95);
  });
});

describe('threshold rule text', () => {
  it('round-trips', () => {
    const rules: ThresholdRule[] = [
      { kind: 'fixed', value: 0.42 },
      { kind: 'youden' },
      { kind: 'min-recall', recall: 0.95 },
      { kind: 'youden-shrunk', weight: 0.5 },
    ];
    for (const rule of rules) expect(parseThresholdRule(formatThresholdRule(rule))).toEqual(rule);
    expect(parseThresholdRule('0.3')).toEqual({ kind: 'fixed', value: 0.3 });
    for (const bad of ['', 'youden:1', 'min-recall:2', 'fixed:x', 'nope']) {
      expect(() => parseThresholdRule(bad)).toThrow(RangeError);
    }
  });
});
