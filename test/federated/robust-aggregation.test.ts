// Trimmed mean and Krum on hand-made updates, with their exact results; the registry's
// settings for them.
import { describe, expect, it } from 'vitest';
import { krumSelect, Krum, pairwiseSquaredDistances } from '../../shared/federated/krum.ts';
import {
  createStrategy,
  resolveStrategySpec,
  STRATEGY_NAMES,
} from '../../shared/federated/strategies.ts';
import { inMemoryWeights } from '../../shared/federated/strategy-utils.ts';
import type { ClientResult, RoundContext } from '../../shared/federated/strategy.ts';
import { TrimmedMean, trimCount } from '../../shared/federated/trimmed-mean.ts';

/** A client whose model is tensor x = xs and tensor y = ys. */
const result = (id: string, n: number, xs: number[], ys: number[] = []): ClientResult => ({
  clientId: id,
  numSamples: n,
  weights: inMemoryWeights([
    { name: 'x', shape: [xs.length], data: Float32Array.from(xs) },
    { name: 'y', shape: [ys.length], data: Float32Array.from(ys) },
  ]),
});
const context = (xs: number, ys = 0): RoundContext => ({
  round: 1,
  current: [
    { name: 'x', shape: [xs], data: new Float32Array(xs) },
    { name: 'y', shape: [ys], data: new Float32Array(ys) },
  ],
  previousInput: async () => undefined,
});
const values = (out: { weights: { data: Float32Array }[] | null }, i = 0): number[] =>
  Array.from(out.weights?.[i].data ?? []);

describe('the coordinate-wise trimmed mean', () => {
  it('drops floor(beta n) values from each end per coordinate, unweighted', async () => {
    const out = await new TrimmedMean({ fraction: 1, beta: 0.2 }).aggregateFit(context(3), [
      result('a', 100, [1, -50, 5]),
      result('b', 1, [2, 0, 5]),
      result('c', 1, [100, 0, 5]),
      result('d', 1, [4, 1, 5]),
      result('e', 1, [3, 2, 5]),
    ]);
    // [1,2,3,4,100] -> 2,3,4; [-50,0,0,1,2] -> 0,0,1; five equal values stay themselves.
    expect(values(out)).toEqual([3, Math.fround(1 / 3), 5]);
    expect(out.rejected).toEqual([]);
    expect(out.metrics.trimmedMean).toEqual({ beta: 0.2, clients: 5, trimmedEachEnd: 1 });
  });

  it('with ties at the cut keeps the right count of each value', async () => {
    const out = await new TrimmedMean({ fraction: 1, beta: 0.25 }).aggregateFit(context(1), [
      result('a', 1, [1]),
      result('b', 1, [1]),
      result('c', 1, [2]),
      result('d', 1, [2]),
    ]);
    // k = 1: one 1 and one 2 dropped, one of each kept.
    expect(values(out)).toEqual([1.5]);
  });

  it('beta 0 is the unweighted mean; beta outside [0, 0.5) is refused', async () => {
    const out = await new TrimmedMean({ fraction: 1, beta: 0 }).aggregateFit(context(1), [
      result('a', 9, [0]),
      result('b', 1, [3]),
    ]);
    expect(values(out)).toEqual([1.5]);
    expect(() => new TrimmedMean({ fraction: 1, beta: 0.5 })).toThrow(/\[0, 0.5\), got 0.5/);
    expect(() => new TrimmedMean({ fraction: 1, beta: -0.01 })).toThrow(/got -0.01/);
    expect(trimCount(0.29, 100)).toBe(29);
    expect(trimCount(0.49, 3)).toBe(1);
    expect(trimCount(0.2, 4)).toBe(0);
  });

  it('refuses a round that trimming would leave empty', async () => {
    expect(() => trimCount(0.4999999999, 2)).toThrow(/leaves nothing/);
    const strategy = new TrimmedMean({ fraction: 1, beta: 0.4999999999 });
    await expect(
      strategy.aggregateFit(context(1), [result('a', 1, [0]), result('b', 1, [1])]),
    ).rejects.toThrow('trimmed mean: trimming 1 of 2 values from each end leaves nothing');
    expect((await strategy.aggregateFit(context(1), [])).weights).toBeNull();
  });
});

// Five updates on a line at 0, 1, 2, 3 and 100, the same in both tensors (the distances are
// summed over them): squared distances double, so with f = 1 (two nearest neighbours) the
// scores are 2 x [1+4, 1+1, 1+1, 1+4, 97^2+98^2] = [10, 4, 4, 10, 38026].
const LINE = [0, 1, 2, 3, 100].map((v, i) => result(`h${i}`, 10 ** i, [v], [v]));

describe('Multi-Krum', () => {
  it('accumulates the pairwise squared distances over the tensors', async () => {
    const d = await pairwiseSquaredDistances(context(1, 1), LINE);
    expect(Array.from(d[0])).toEqual([0, 2, 8, 18, 20000]);
    expect(Array.from(d[4])).toEqual([20000, 19602, 19208, 18818, 0]);
  });

  it('Krum (m = 1) takes the best score, the earlier of a tie, whatever its sample count', async () => {
    const out = await new Krum({ fraction: 1, byzantine: 1, select: 1 }).aggregateFit(
      context(1, 1),
      LINE,
    );
    expect(values(out)).toEqual([1]);
    expect(values(out, 1)).toEqual([1]);
    expect(out.metrics.krum).toEqual({
      byzantine: 1,
      select: 1,
      scores: [
        { clientId: 'h0', score: 10, selected: false },
        { clientId: 'h1', score: 4, selected: true },
        { clientId: 'h2', score: 4, selected: false },
        { clientId: 'h3', score: 10, selected: false },
        { clientId: 'h4', score: 38026, selected: false },
      ],
    });
    expect(out.rejected).toEqual([]);
  });

  it('Multi-Krum averages the m best unweighted, ties broken by order', async () => {
    const krum = (m: number) => new Krum({ fraction: 1, byzantine: 1, select: m });
    expect(values(await krum(2).aggregateFit(context(1, 1), LINE))).toEqual([1.5]);
    expect(values(await krum(3).aggregateFit(context(1, 1), LINE))).toEqual([1]);
    expect(values(await krum(4).aggregateFit(context(1, 1), LINE))).toEqual([1.5]);
    expect(
      krumSelect([new Float64Array(3), new Float64Array(3), new Float64Array(3)], 0, 2),
    ).toEqual({ scores: [0, 0, 0], selected: [0, 1] });
  });

  it('refuses n < 2f + 3 and m > n - f with the numbers', async () => {
    await expect(
      new Krum({ fraction: 1, byzantine: 1, select: 1 }).aggregateFit(
        context(1, 1),
        LINE.slice(0, 4),
      ),
    ).rejects.toThrow('Krum with f = 1 needs n >= 2f + 3 = 5 updates, got 4');
    await expect(
      new Krum({ fraction: 1, byzantine: 2, select: 1 }).aggregateFit(context(1, 1), LINE),
    ).rejects.toThrow('needs n >= 2f + 3 = 7 updates, got 5');
    await expect(
      new Krum({ fraction: 1, byzantine: 1, select: 5 }).aggregateFit(context(1, 1), LINE),
    ).rejects.toThrow('Multi-Krum selects m <= n - f = 4 of 5 updates, got m = 5');
    expect(() => new Krum({ fraction: 1, byzantine: 0.5, select: 1 })).toThrow(/integer >= 0/);
    expect(() => new Krum({ fraction: 1, byzantine: 1, select: 0 })).toThrow(/integer >= 1/);
  });
});

describe('the robust strategies in the registry', () => {
  it('fill their own defaults and refuse settings of others', () => {
    expect(resolveStrategySpec({ name: 'trimmed-mean', fraction: 1 })).toEqual({
      name: 'trimmed-mean',
      fraction: 1,
      trimBeta: 0.2,
    });
    expect(resolveStrategySpec({ name: 'krum', fraction: 1, krumSelect: 3 })).toEqual({
      name: 'krum',
      fraction: 1,
      byzantine: 1,
      krumSelect: 3,
    });
    expect(() => resolveStrategySpec({ name: 'fedavg', fraction: 1, trimBeta: 0.1 })).toThrow(
      'trimBeta: applies to trimmed-mean only, not fedavg',
    );
    expect(() => resolveStrategySpec({ name: 'median', fraction: 1, byzantine: 1 })).toThrow(
      'byzantine: applies to krum only, not median',
    );
    expect(() => resolveStrategySpec({ name: 'trimmed-mean', fraction: 1, trimBeta: 0.5 })).toThrow(
      /beta must be in \[0, 0.5\)/,
    );
  });

  it('median and its stored name fedmedian are the same algorithm', async () => {
    expect(STRATEGY_NAMES).toEqual(
      expect.arrayContaining(['median', 'fedmedian', 'trimmed-mean', 'krum']),
    );
    const round = [result('a', 1, [1]), result('b', 1, [2]), result('c', 1, [90])];
    const median = createStrategy({ name: 'median', fraction: 1 });
    const fedmedian = createStrategy({ name: 'fedmedian', fraction: 1 });
    expect([median.name, fedmedian.name]).toEqual(['median', 'fedmedian']);
    expect(values(await median.aggregateFit(context(1), round))).toEqual([2]);
    expect(values(await fedmedian.aggregateFit(context(1), round))).toEqual([2]);
  });
});
