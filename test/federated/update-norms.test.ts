import { describe, expect, it } from 'vitest';
import { inMemoryWeights } from '../../shared/federated/strategy-utils.ts';
import { findNormOutliers, updateNorm } from '../../shared/federated/update-norms.ts';

const w = (name: string, values: number[]) => ({
  name,
  shape: [values.length],
  data: Float32Array.from(values),
});

describe('updateNorm', () => {
  it('is the L2 distance over all weights', async () => {
    const reference = [w('a', [0, 0]), w('b', [1])];
    expect(await updateNorm(reference, inMemoryWeights([w('b', [1]), w('a', [3, 4])]))).toBe(5);
  });

  it('names a missing or mis-sized weight', async () => {
    await expect(updateNorm([w('a', [0, 0])], inMemoryWeights([w('a', [0])]))).rejects.toThrow(
      /no weight a of 2 values/,
    );
  });
});

describe('findNormOutliers', () => {
  const norms = (values: number[]) => values.map((norm, id) => ({ id, norm }));

  it('flags norms beyond maxRatio x the median, either way', () => {
    const found = findNormOutliers(norms([1, 1.2, 0.9, 50, 0.01]), 10);
    expect(found.map((o) => o.id)).toEqual([3, 4]);
    expect(found[0]).toMatchObject({ median: 1, ratio: 50 });
    expect(found[0].reason).toBe(
      "update norm 50 is 50x the round's median 1 (allowed 0.1x to 10x)",
    );
  });

  it('keeps honest spread and needs three updates', () => {
    expect(findNormOutliers(norms([1, 3, 5]), 10)).toEqual([]);
    expect(findNormOutliers(norms([1, 1000]), 10)).toEqual([]);
  });

  it('is robust to a minority of poisoned updates', () => {
    expect(findNormOutliers(norms([1, 1, 1, 900, 800]), 10).map((o) => o.id)).toEqual([3, 4]);
  });

  it('flags a non-finite norm; 0 turns the check off; other ratios <= 1 are refused', () => {
    expect(findNormOutliers(norms([1, 1, Infinity]), 10).map((o) => o.id)).toEqual([2]);
    expect(findNormOutliers(norms([1, 1, 1000]), 0)).toEqual([]);
    expect(() => findNormOutliers(norms([1, 1, 1]), 1)).toThrow(RangeError);
  });
});
