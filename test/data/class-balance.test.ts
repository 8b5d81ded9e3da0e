import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BALANCING,
  balancedSampleOrder,
  classCounts,
  classWeights,
  classWeightsFromCounts,
} from '../../shared/data/class-balance.ts';
import type { Label, XrayRecord } from '../../shared/data/dataset.ts';
import { createRng } from '../../shared/util/random.ts';

function records(n0: number, n1: number): XrayRecord[] {
  const make = (label: Label, i: number): XrayRecord => ({
    path: `/${label}/${i}`,
    label,
    patientId: `${label}-${i}`,
  });
  return [
    ...Array.from({ length: n0 }, (_, i) => make(0, i)),
    ...Array.from({ length: n1 }, (_, i) => make(1, i)),
  ];
}

describe('classWeights', () => {
  it('is n / (2 n_c)', () => {
    expect(classWeights(records(10, 30))).toEqual([2, 40 / 60]);
    const [w0, w1] = classWeights(records(1341, 3875));
    expect(w0).toBeCloseTo(5216 / 2682, 10);
    expect(w1).toBeCloseTo(5216 / 7750, 10);
    // Both classes then carry equal total weight.
    expect(w0 * 1341).toBeCloseTo(w1 * 3875, 8);
  });

  it('gives an absent class weight 0 and the present one 1', () => {
    expect(classWeights(records(0, 7))).toEqual([0, 1]);
    expect(classWeights(records(4, 0))).toEqual([1, 0]);
    expect(classWeights([])).toEqual([0, 0]);
  });

  it('class weights are the documented default', () => {
    expect(DEFAULT_BALANCING).toBe('class-weights');
  });
});

describe('balancedSampleOrder', () => {
  it('visits every majority image once and oversamples the minority to the same count', () => {
    const recs = records(7, 30);
    const order = balancedSampleOrder(recs, createRng(1));
    expect(order).toHaveLength(60);
    const picked = order.map((i) => recs[i]);
    expect(classCounts(picked)).toEqual([30, 30]);
    const majority = order.filter((i) => recs[i].label === 1);
    expect(new Set(majority).size).toBe(30);
    // Each minority image appears 4 or 5 times (30 = 4 * 7 + 2).
    const times = new Map<number, number>();
    for (const i of order.filter((i) => recs[i].label === 0)) times.set(i, (times.get(i) ?? 0) + 1);
    expect([...times.values()].sort()).toEqual([4, 4, 4, 4, 4, 5, 5]);
  });

  it('is deterministic for a seed and handles a missing class', () => {
    const recs = records(5, 12);
    expect(balancedSampleOrder(recs, createRng(3))).toEqual(
      balancedSampleOrder(recs, createRng(3)),
    );
    expect(balancedSampleOrder(recs, createRng(3))).not.toEqual(
      balancedSampleOrder(recs, createRng(4)),
    );
    expect(balancedSampleOrder(records(0, 4), createRng(1)).sort()).toEqual([0, 1, 2, 3]);
  });
});

describe('classWeightsFromCounts', () => {
  it('gives classWeights from counts alone', () => {
    expect(classWeightsFromCounts([10, 30])).toEqual(classWeights(records(10, 30)));
    expect(classWeightsFromCounts([0, 7])).toEqual([0, 1]);
  });

  it('gives every image its pooled-training weight in FedAvg when built from the summed counts', () => {
    // The cpu profile's Dirichlet 0.5 shares, [NORMAL, PNEUMONIA] per hospital. In FedAvg
    // weighted by n_j / n, an image of class c at hospital j weighs (n_j / n) * w_c / n_j = w_c / n
    // in the averaged loss; in pooled training it weighs W_c / n with the pooled weights W.
    const shares: Array<[number, number]> = [
      [26, 3486],
      [953, 1],
      [228, 0],
    ];
    const pooledCounts: [number, number] = [
      shares.reduce((a, s) => a + s[0], 0),
      shares.reduce((a, s) => a + s[1], 0),
    ];
    const pooled = classWeightsFromCounts(pooledCounts);
    expect(pooled[0]).toBeCloseTo(4694 / (2 * 1207), 12);
    // Hospital-2's single PNEUMONIA image, weighted by its own hospital's counts, counts about
    // 700 times what it counts in pooled training.
    const local = classWeightsFromCounts(shares[1]!);
    expect(local[1] / pooled[1]).toBeGreaterThan(700);
  });
});
