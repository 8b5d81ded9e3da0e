import { describe, expect, it } from 'vitest';
import { FedAvg, weightedAverage } from '../../shared/federated/fedavg.ts';
import { FedAvgM, serverMomentumStep } from '../../shared/federated/fedavgm.ts';
import type { WeightArray } from '../../shared/model/model-weights.ts';
import { inMemoryWeights } from '../../shared/federated/strategy-utils.ts';
import type { ClientResult, Strategy } from '../../shared/federated/strategy.ts';
import { createRng } from '../../shared/util/random.ts';

const weight = (values: number[]) => [
  { name: 'w', shape: [values.length], data: Float32Array.from(values) },
];
const client = (id: string, n: number, values: number[]): ClientResult => ({
  clientId: id,
  numSamples: n,
  weights: inMemoryWeights(weight(values)),
});

/** Runs a strategy's rounds as the simulation does: each round sees the input before its own. */
function roundsOf(strategy: Strategy) {
  let previous: WeightArray[] | undefined;
  return async (round: number, current: WeightArray[], results: ClientResult[]) => {
    const before = previous;
    const out = await strategy.aggregateFit(
      { round, current, previousInput: async () => before },
      results,
    );
    previous = current;
    if (!out.weights) throw new Error('nothing aggregated');
    return out.weights;
  };
}

describe('FedAvgM (server momentum)', () => {
  it('equals FedAvg with momentum 0 and server learning rate 1', async () => {
    const current = weight([1, 2]);
    const results = [client('a', 1, [3, 2]), client('b', 3, [1, 6])];
    const plain = await roundsOf(new FedAvg({ fraction: 1 }))(1, current, results);
    const m0 = await roundsOf(new FedAvgM({ fraction: 1, momentum: 0 }))(1, current, results);
    expect(Array.from(m0[0].data)).toEqual(Array.from(plain[0].data));
  });

  it('carries the update direction across rounds: v = beta v + (w - avg), w = w - eta v', async () => {
    const aggregate = roundsOf(new FedAvgM({ fraction: 1, momentum: 0.5 }));
    // Round 1: average 3 from 1: d = -2, v = -2, w = 3.
    const r1 = await aggregate(1, weight([1]), [client('a', 1, [3])]);
    expect(Array.from(r1[0].data)).toEqual([3]);
    // Round 2: hospitals return 4 from 3: d = -1, v = 0.5 x -2 - 1 = -2, w = 5 (FedAvg: 4).
    const r2 = await aggregate(2, r1, [client('a', 1, [4])]);
    expect(Array.from(r2[0].data)).toEqual([5]);
    // Round 3: hospitals keep 5: d = 0, v = -1, w = 6 (the momentum carries on).
    const r3 = await aggregate(3, r2, [client('a', 1, [5])]);
    expect(Array.from(r3[0].data)).toEqual([6]);
  });

  it('selects hospitals as FedAvg does and refuses bad settings', () => {
    const available = ['h1', 'h2', 'h3', 'h4'].map((id) => ({ id, numSamples: 10 }));
    const a = new FedAvg({ fraction: 0.5 }).configureFit(1, available, createRng(7));
    const b = new FedAvgM({ fraction: 0.5, momentum: 0.9 }).configureFit(
      1,
      available,
      createRng(7),
    );
    expect(b).toEqual(a);
    expect(() => new FedAvgM({ fraction: 1, momentum: 1 })).toThrow(/momentum/);
    expect(() => new FedAvgM({ fraction: 1, momentum: 0.9, serverLearningRate: 0 })).toThrow(
      /server learning rate/,
    );
  });

  it('reconstructs the velocity from two consecutive globals as the stateful class keeps it', async () => {
    const settings = { momentum: 0.7, serverLearningRate: 1.5 };
    const aggregate = roundsOf(new FedAvgM({ fraction: 1, ...settings }));
    // Uneven hospitals, over 3 rounds: each round's updates move away from its global.
    const rounds = [
      [client('a', 10, [0.5, -1.25, 3]), client('b', 30, [1.5, 0.75, 2])],
      [client('a', 10, [2.25, 0.5, 1]), client('b', 30, [0.25, 1.5, 2.5])],
      [client('a', 10, [-0.5, 2, 0.125]), client('b', 30, [1, -0.25, 4])],
    ];
    const globals: WeightArray[][] = [weight([1, 0, 2.5])];
    for (const [t, results] of rounds.entries()) {
      const current = globals[t];
      const stateful = await aggregate(t + 1, current, results);
      const stateless = serverMomentumStep(
        current,
        t === 0 ? undefined : globals[t - 1],
        await weightedAverage(current, results),
        settings,
      );
      expect(stateless[0].shape).toEqual([3]);
      for (let k = 0; k < 3; k++) {
        expect(stateless[0].data[k], `round ${t + 1}, value ${k}`).toBeCloseTo(
          stateful[0].data[k],
          5,
        );
      }
      globals.push(stateful);
    }
    // The first round is plain FedAvg scaled by eta_s: w - eta_s (w - avg).
    const first = serverMomentumStep(globals[0], undefined, weight([2, 0, 2.5]), settings);
    expect(Array.from(first[0].data)).toEqual([2.5, 0, 2.5]);
    expect(() =>
      serverMomentumStep(globals[0], undefined, weight([2, 0, 2.5]), {
        momentum: 1,
        serverLearningRate: 1,
      }),
    ).toThrow(/momentum/);
  });
});
