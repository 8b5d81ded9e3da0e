import { describe, expect, it } from 'vitest';
import { EarlyStopping, validationLossOf } from '../../services/aggregator/lib/early-stopping.ts';

describe('EarlyStopping', () => {
  it('stops after `patience` rounds without an improvement of minDelta', () => {
    const stop = new EarlyStopping(2, 0.01);
    expect([0.9, 0.7, 0.695, 0.69, 0.6, 0.6, 0.61].map((l) => stop.observe(l))).toEqual([
      false,
      false,
      false,
      true,
      false,
      false,
      true,
    ]);
  });

  it('is off with patience 0 and ignores rounds without a validation loss', () => {
    const off = new EarlyStopping(0, 0);
    expect([1, 1, 1, 1].some((l) => off.observe(l))).toBe(false);
    const on = new EarlyStopping(1, 0);
    expect(on.observe(undefined)).toBe(false);
    expect(on.observe(0.5)).toBe(false);
    expect(on.observe(Number.NaN)).toBe(false);
    expect(on.observe(0.5)).toBe(true);
  });

  it('reads the loss from stored model metrics', () => {
    expect(validationLossOf({ validation: { loss: 0.3 } })).toBe(0.3);
    expect(validationLossOf({ validation: null })).toBeUndefined();
    expect(validationLossOf(null)).toBeUndefined();
  });
});
