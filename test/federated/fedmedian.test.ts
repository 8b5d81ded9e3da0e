import { describe, expect, it } from 'vitest';
import { FedMedian } from '../../shared/federated/fedmedian.ts';
import { createStrategy } from '../../shared/federated/strategies.ts';
import { inMemoryWeights } from '../../shared/federated/strategy-utils.ts';
import type { ClientResult } from '../../shared/federated/strategy.ts';

const result = (id: string, n: number, values: number[]): ClientResult => ({
  clientId: id,
  numSamples: n,
  weights: inMemoryWeights([
    { name: 'w', shape: [values.length], data: Float32Array.from(values) },
  ]),
});
const ctx = {
  round: 1,
  current: [{ name: 'w', shape: [2], data: new Float32Array(2) }],
  previousInput: async () => undefined,
};

describe('FedMedian', () => {
  it('takes the coordinate-wise median, unmoved by one poisoned update', async () => {
    const out = await new FedMedian({ fraction: 1 }).aggregateFit(ctx, [
      result('a', 10, [1, 4]),
      result('b', 1, [2, 5]),
      result('c', 1, [1e6, -1e6]),
    ]);
    expect(Array.from(out.weights?.[0].data ?? [])).toEqual([2, 4]);
  });

  it('averages the middle two of an even count, and is registered under its name', async () => {
    const strategy = createStrategy({ name: 'fedmedian', fraction: 1 });
    const out = await strategy.aggregateFit(ctx, [result('a', 1, [1, 0]), result('b', 1, [3, 2])]);
    expect(Array.from(out.weights?.[0].data ?? [])).toEqual([2, 1]);
    expect(strategy.name).toBe('fedmedian');
  });
});
