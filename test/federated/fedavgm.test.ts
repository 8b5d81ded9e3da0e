import { describe, expect, it } from 'vitest';
import { FedAvg } from '../../shared/federated/fedavg.ts';
import { FedAvgM } from '../../shared/federated/fedavgm.ts';
import type { ClientResult } from '../../shared/federated/strategy.ts';
import { createRng } from '../../shared/util/random.ts';

const weight = (values: number[]) => [
  { name: 'w', shape: [values.length], data: Float32Array.from(values) },
];
const client = (id: string, n: number, values: number[]): ClientResult => ({
  clientId: id,
  numSamples: n,
  weights: weight(values),
});

describe('FedAvgM (server momentum)', () => {
  it('equals FedAvg with momentum 0 and server learning rate 1', () => {
    const current = weight([1, 2]);
    const results = [client('a', 1, [3, 2]), client('b', 3, [1, 6])];
    const plain = new FedAvg({ fraction: 1 }).aggregate(1, current, results);
    const m0 = new FedAvgM({ fraction: 1, momentum: 0 }).aggregate(1, current, results);
    expect(Array.from(m0[0].data)).toEqual(Array.from(plain[0].data));
  });

  it('carries the update direction across rounds: v = beta v + (w - avg), w = w - eta v', () => {
    const strategy = new FedAvgM({ fraction: 1, momentum: 0.5 });
    // Round 1: average 3 from 1: d = -2, v = -2, w = 3.
    const r1 = strategy.aggregate(1, weight([1]), [client('a', 1, [3])]);
    expect(Array.from(r1[0].data)).toEqual([3]);
    // Round 2: hospitals return 4 from 3: d = -1, v = 0.5 x -2 - 1 = -2, w = 5 (FedAvg: 4).
    const r2 = strategy.aggregate(2, r1, [client('a', 1, [4])]);
    expect(Array.from(r2[0].data)).toEqual([5]);
    // Round 3: hospitals keep 5: d = 0, v = -1, w = 6 (the momentum carries on).
    const r3 = strategy.aggregate(3, r2, [client('a', 1, [5])]);
    expect(Array.from(r3[0].data)).toEqual([6]);
  });

  it('selects hospitals as FedAvg does and refuses bad settings', () => {
    const available = ['h1', 'h2', 'h3', 'h4'].map((id) => ({ id, numSamples: 10 }));
    const a = new FedAvg({ fraction: 0.5 }).configureRound(1, available, createRng(7));
    const b = new FedAvgM({ fraction: 0.5, momentum: 0.9 }).configureRound(
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
});
