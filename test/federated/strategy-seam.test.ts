import { describe, expect, it } from 'vitest';
import { FedAvg } from '../../shared/federated/fedavg.ts';
import { FEDAVGM_DEFAULTS, FedAvgM } from '../../shared/federated/fedavgm.ts';
import {
  createStrategy,
  resolveStrategySpec,
  STRATEGIES,
  STRATEGY_NAMES,
} from '../../shared/federated/strategies.ts';
import type { ClientResult, RoundContext } from '../../shared/federated/strategy.ts';
import { inMemoryWeights, weightedMetricMeans } from '../../shared/federated/strategy-utils.ts';
import { UpdateNormScreen } from '../../shared/federated/update-norm-screen.ts';
import type { WeightArray } from '../../shared/model/model-weights.ts';

const weight = (values: number[]): WeightArray[] => [
  { name: 'w', shape: [values.length], data: Float32Array.from(values) },
];
const result = (id: string, n: number, values: number[]): ClientResult => ({
  clientId: id,
  numSamples: n,
  weights: inMemoryWeights(weight(values)),
});
const context = (current: WeightArray[], previous?: WeightArray[]): RoundContext => ({
  round: previous ? 2 : 1,
  current,
  previousInput: async () => previous,
});

// Three honest updates near the input, one 1000x away, one sent back unchanged.
const CURRENT = weight([0, 0]);
const HONEST = [result('a', 1, [1, 1]), result('b', 1, [1.2, 0.8]), result('c', 2, [0.9, 1.1])];
const ROUND = [...HONEST, result('poison', 1, [1000, 1000]), result('free-rider', 1, [0, 0])];

describe('the update-norm screen wraps any strategy', () => {
  it('leaves out the outliers with their reasons and averages the rest with FedAvg', async () => {
    const screened = await new UpdateNormScreen(new FedAvg({ fraction: 1 }), 10).aggregateFit(
      context(CURRENT),
      ROUND,
    );
    const plain = await new FedAvg({ fraction: 1 }).aggregateFit(context(CURRENT), HONEST);
    expect(screened.weights).toEqual(plain.weights);
    expect(screened.rejected.map((r) => r.clientId)).toEqual(['poison', 'free-rider']);
    expect(screened.rejected[0].reason).toMatch(/^rejected as an outlier: update norm .* median/);
    expect(screened.rejected[0].details.ratio).toBeGreaterThan(10);
    const norms = screened.metrics.updateNorms as { clientId: string; rejected: boolean }[];
    expect(norms.filter((n) => n.rejected).map((n) => n.clientId)).toEqual([
      'poison',
      'free-rider',
    ]);
  });

  it('composes with FedAvgM, which still reads the previous input through the context', async () => {
    const previous = weight([-1, -1]);
    const inner = new FedAvgM({ fraction: 1, momentum: 0.5 });
    const screened = new UpdateNormScreen(inner, 10);
    expect(screened.usesPreviousInput).toBe(true);
    const got = await screened.aggregateFit(context(CURRENT, previous), ROUND);
    const want = await inner.aggregateFit(context(CURRENT, previous), HONEST);
    expect(got.weights).toEqual(want.weights);
    expect(got.metrics.velocityRestarted).toBe(false);
  });

  it('with ratio 0 measures every norm and rejects nothing', async () => {
    const out = await new UpdateNormScreen(new FedAvg({ fraction: 1 }), 0).aggregateFit(
      context(CURRENT),
      ROUND,
    );
    expect(out.rejected).toEqual([]);
    expect(out.metrics.updateNorms).toHaveLength(5);
    expect(() => new UpdateNormScreen(new FedAvg({ fraction: 1 }), 0.5)).toThrow(/maxRatio/);
  });

  it('returns no weights when every result is left out', async () => {
    const screened = new UpdateNormScreen(new FedAvg({ fraction: 1 }), 10);
    const out = await screened.aggregateFit(context(CURRENT), []);
    expect(out.weights).toBeNull();
  });
});

describe('the strategy registry', () => {
  it('creates each registered strategy under its own name', () => {
    for (const name of STRATEGY_NAMES) {
      expect(createStrategy(resolveStrategySpec({ name, fraction: 0.5 })).name).toBe(name);
    }
    expect(Object.keys(STRATEGIES)).toEqual(STRATEGY_NAMES);
  });

  it("fills a strategy's own defaults and refuses another's settings", () => {
    expect(resolveStrategySpec({ name: 'fedavgm', fraction: 1 })).toEqual({
      name: 'fedavgm',
      fraction: 1,
      ...FEDAVGM_DEFAULTS,
    });
    expect(resolveStrategySpec({ name: 'fedavg', fraction: 1 })).toEqual({
      name: 'fedavg',
      fraction: 1,
    });
    expect(() => resolveStrategySpec({ name: 'fedavg', fraction: 1, serverMomentum: 0.5 })).toThrow(
      'serverMomentum: applies to fedavgm only, not fedavg',
    );
  });

  it('wraps in the update-norm screen only when a ratio is given', () => {
    expect(createStrategy({ name: 'fedavg', fraction: 1 })).toBeInstanceOf(FedAvg);
    expect(
      createStrategy({ name: 'fedavg', fraction: 1 }, { maxUpdateNormRatio: 10 }),
    ).toBeInstanceOf(UpdateNormScreen);
  });
});

describe('the evaluation half', () => {
  it('FedAvg asks every contributor and weights each metric by validation size', () => {
    const fedavg = new FedAvg({ fraction: 1 });
    expect(
      fedavg.configureEvaluate(1, [
        { id: 'a', numSamples: 3 },
        { id: 'b', numSamples: 1 },
      ]),
    ).toEqual(['a', 'b']);
    expect(
      fedavg.aggregateEvaluate(1, [
        { clientId: 'a', numExamples: 30, metrics: { loss: 0.2, auc: 0.9 } },
        { clientId: 'b', numExamples: 10, metrics: { loss: 0.6 } },
      ]),
    ).toEqual({ loss: 0.3, auc: 0.9 });
    expect(weightedMetricMeans([])).toEqual({});
  });
});
