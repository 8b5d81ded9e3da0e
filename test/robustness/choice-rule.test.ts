import { describe, expect, it } from 'vitest';
import {
  ensembleBeats,
  finalistShips,
  meanSpecificityHalfWidth,
  replacesShipped,
  screen,
  wilsonInterval,
  type ArmMeasures,
} from '../../bench/robust/rule.ts';

// The shipped model's measures (bench/robust/results/light-64-s42.json).
const BASELINE: ArmMeasures = {
  logLoss: 0.1772,
  logLossInterval: [0.1382, 0.22],
  meanAuc: 0.9708,
  meanSpecificity: 0.8481,
  normals: 134,
  unimitatedSpecificity: 0.9677,
};

// The shipped ensemble's (bench/robust/results/ens-light-64-x2.json).
const SHIPPED: ArmMeasures = {
  logLoss: 0.1743,
  logLossInterval: [0.1352, 0.2177],
  meanAuc: 0.9718,
  meanSpecificity: 0.8705,
  normals: 134,
  unimitatedSpecificity: 0.9701,
};

describe('the recipe study choice rule (docs/robust-protocol.md)', () => {
  it('Wilson intervals match the textbook values', () => {
    const [lo, hi] = wilsonInterval(0.5, 100);
    expect(lo).toBeCloseTo(0.4038, 3);
    expect(hi).toBeCloseTo(0.5962, 3);
    expect(wilsonInterval(1, 10)[1]).toBeCloseTo(1, 12);
    expect(wilsonInterval(1, 10)[0]).toBeCloseTo(0.7225, 3);
  });

  it("puts the baseline's mSpec-C bar at 0.9088, as the protocol says", () => {
    expect(meanSpecificityHalfWidth(BASELINE)).toBeCloseTo(0.0607, 3);
    expect(screen(BASELINE, BASELINE).specificityBar).toBeCloseTo(0.9088, 3);
    expect(screen(BASELINE, BASELINE).passes).toBe(false);
  });

  it('passes an arm above the bar with a log-loss within the interval, and only then', () => {
    const better = { ...BASELINE, meanSpecificity: 0.92, logLoss: 0.2 };
    expect(screen(better, BASELINE).passes).toBe(true);
    const overconfident = { ...better, logLoss: 0.25 };
    const verdict = screen(overconfident, BASELINE);
    expect(verdict.passes).toBe(false);
    expect(verdict.reasons).toEqual(['log-loss 0.2500 is above 0.2200']);
    expect(screen({ ...BASELINE, meanSpecificity: 0.9 }, BASELINE).reasons[0]).toMatch(
      /mSpec-C 0.9000 is not above 0.908/,
    );
  });

  it('a finalist ships with a log-loss within the bound and mAUC-C not below the baseline', () => {
    expect(finalistShips({ ...BASELINE, logLoss: 0.21, meanAuc: 0.971 }, BASELINE).passes).toBe(
      true,
    );
    expect(finalistShips({ ...BASELINE, logLoss: 0.23 }, BASELINE).reasons).toEqual([
      'log-loss 0.2300 is above 0.2200',
    ]);
    expect(finalistShips({ ...BASELINE, meanAuc: 0.97 }, BASELINE).passes).toBe(false);
  });

  it('an ensemble must raise mAUC-C without a worse log-loss', () => {
    expect(ensembleBeats({ ...BASELINE, meanAuc: 0.975, logLoss: 0.17 }, BASELINE)).toBe(true);
    expect(ensembleBeats({ ...BASELINE, meanAuc: 0.975, logLoss: 0.18 }, BASELINE)).toBe(false);
    expect(ensembleBeats({ ...BASELINE, meanAuc: 0.97, logLoss: 0.1 }, BASELINE)).toBe(false);
  });

  it('change 5: a screened arm replaces the shipped ensemble only on all three conditions', () => {
    const arm = { ...SHIPPED, meanAuc: 0.975, logLoss: 0.2, unimitatedSpecificity: 0.95 };
    const verdict = replacesShipped(arm, SHIPPED);
    expect(verdict.passes).toBe(true);
    // x2's half-width 0.057 below its 0.9701.
    expect(verdict.specificityBar).toBeCloseTo(0.9131, 3);
    expect(verdict.logLossBar).toBe(0.2177);
    expect(replacesShipped({ ...arm, meanAuc: 0.9717 }, SHIPPED).reasons).toEqual([
      'mAUC-C 0.9717 is below 0.9718',
    ]);
    expect(replacesShipped({ ...arm, logLoss: 0.22 }, SHIPPED).reasons).toEqual([
      'log-loss 0.2200 is above 0.2177',
    ]);
    expect(replacesShipped({ ...arm, unimitatedSpecificity: 0.9 }, SHIPPED).reasons[0]).toMatch(
      /JPEG\/down-sampling\/marker 0.9000 is below 0.913/,
    );
  });
});
