import { describe, expect, it } from 'vitest';
import { DpFedAvg, updateNoiseMultiplier } from '../../shared/federated/dp-fedavg.ts';
import { FedAvg } from '../../shared/federated/fedavg.ts';
import { FedAvgM } from '../../shared/federated/fedavgm.ts';
import { inMemoryWeights } from '../../shared/federated/strategy-utils.ts';
import type { ClientResult, RoundContext } from '../../shared/federated/strategy.ts';
import type { WeightArray } from '../../shared/model/model-weights.ts';
import { cryptoGaussian, seededGaussian } from '../../shared/privacy/gaussian.ts';
import { createRng } from '../../shared/util/random.ts';

const model = (a: number[], b: number[]): WeightArray[] => [
  { name: 'a', shape: [a.length], data: Float32Array.from(a) },
  { name: 'b', shape: [b.length], data: Float32Array.from(b) },
];
const result = (id: string, n: number, weights: WeightArray[]): ClientResult => ({
  clientId: id,
  numSamples: n,
  weights: inMemoryWeights(weights),
});
const context = (current: WeightArray[]): RoundContext => ({
  round: 1,
  current,
  previousInput: async () => undefined,
});
const flat = (w: readonly WeightArray[]) => w.flatMap((t) => Array.from(t.data));
const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const seeded = (seed = 7) => seededGaussian(createRng(seed));

describe('DP-FedAvg wrapper', () => {
  it('clips an update of norm 10C over all tensors to exactly C', async () => {
    const w = model([1, 2], [3]);
    // Delta = (6, 0, 8) spread over both tensors: norm 10 = 10 C with C = 1.
    const far = model([7, 2], [11]);
    const dp = new DpFedAvg(new FedAvg({ fraction: 1 }), {
      clipNorm: 1,
      noiseMultiplier: 0,
      noise: seeded(),
    });
    const out = await dp.aggregateFit(context(w), [result('h', 100, far)]);
    const delta = flat(out.weights ?? []).map((x, i) => x - flat(w)[i]);
    expect(norm(delta)).toBeCloseTo(1, 6);
    expect(delta[0]).toBeCloseTo(0.6, 6);
    expect(delta[2]).toBeCloseTo(0.8, 6);
    expect(out.metrics.dp).toMatchObject({ clipNorm: 1, noiseStd: 0, aggregated: 1 });
  });

  it('with z = 0 and a clip norm no update reaches, equals FedAvg with equal weights', async () => {
    const w = model([0, 0, 0], [1]);
    const updates = [
      result('a', 10, model([1, 2, 3], [2])),
      result('b', 1000, model([-1, 0, 5], [0])),
      result('c', 3, model([0.5, 0.25, -2], [1.5])),
    ];
    const dp = new DpFedAvg(new FedAvg({ fraction: 1 }), {
      clipNorm: 1e6,
      noiseMultiplier: 0,
      noise: seeded(),
    });
    const out = await dp.aggregateFit(context(w), updates);
    const uniform = await new FedAvg({ fraction: 1 }).aggregateFit(
      context(w),
      updates.map((u) => ({ ...u, numSamples: 1 })),
    );
    const got = flat(out.weights ?? []);
    const want = flat(uniform.weights ?? []);
    for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(want[i], 6);
    // Not the sample-weighted average: b's 1000 images count like a's 10.
    const weighted = await new FedAvg({ fraction: 1 }).aggregateFit(context(w), updates);
    expect(flat(weighted.weights ?? [])[0]).not.toBeCloseTo(got[0], 2);
  });

  it('adds noise of standard deviation z C / m to every coordinate (fixed seed)', async () => {
    const size = 200_000;
    const w = [{ name: 'w', shape: [size], data: new Float32Array(size) }];
    const same = () => [{ name: 'w', shape: [size], data: new Float32Array(size) }];
    const dp = new DpFedAvg(new FedAvg({ fraction: 1 }), {
      clipNorm: 2,
      noiseMultiplier: 1.5,
      noise: seeded(42),
    });
    const m = 3;
    const out = await dp.aggregateFit(
      context(w),
      Array.from({ length: m }, (_, j) => result(`h${j}`, 1, same())),
    );
    const x = out.weights?.[0].data ?? new Float32Array();
    const expectedStd = (1.5 * 2) / m;
    let sum = 0;
    let sq = 0;
    let within = 0;
    for (const v of x) {
      sum += v;
      sq += v * v;
      if (Math.abs(v) < expectedStd) within++;
    }
    const mean = sum / size;
    const std = Math.sqrt(sq / size - mean * mean);
    // Standard errors at n = 200000: std 0.16%, mean 0.0022 sigma, P(|Z| < 1) 0.1%. The
    // tolerances are ten of them or more; with the fixed seed the draw is the same every run.
    expect(Math.abs(std / expectedStd - 1)).toBeLessThan(0.02);
    expect(Math.abs(mean)).toBeLessThan(0.03 * expectedStd);
    expect(within / size).toBeGreaterThan(0.6827 - 0.01);
    expect(within / size).toBeLessThan(0.6827 + 0.01);
    expect(out.metrics.dp).toMatchObject({ noiseStd: expectedStd, aggregated: m });
  });

  it('draws the same noise from the same seed, and other noise from the crypto source', async () => {
    const w = [{ name: 'w', shape: [64], data: new Float32Array(64) }];
    const run = async (noise: ReturnType<typeof seeded>) =>
      flat(
        (
          await new DpFedAvg(new FedAvg({ fraction: 1 }), {
            clipNorm: 1,
            noiseMultiplier: 1,
            noise,
          }).aggregateFit(context(w), [result('a', 1, w)])
        ).weights ?? [],
      );
    expect(await run(seeded(3))).toEqual(await run(seeded(3)));
    const crypto = await run(cryptoGaussian());
    expect(crypto).not.toEqual(await run(cryptoGaussian()));
    expect(crypto.every(Number.isFinite)).toBe(true);
  });

  it("hands the inner strategy the noised average only (FedAvgM's momentum is post-processing)", async () => {
    const w = model([0, 0], [0]);
    const inner = new FedAvgM({ fraction: 1, momentum: 0.9, serverLearningRate: 1 });
    const dp = new DpFedAvg(inner, { clipNorm: 1, noiseMultiplier: 0, noise: seeded() });
    const out = await dp.aggregateFit(context(w), [
      result('a', 5, model([30, 40], [0])),
      result('b', 5, model([0, 0], [0.5])),
    ]);
    // (0.6, 0.8, 0) and (0, 0, 0.5) averaged; FedAvgM's first round (no velocity) is FedAvg.
    const got = flat(out.weights ?? []);
    expect(got[0]).toBeCloseTo(0.3, 6);
    expect(got[1]).toBeCloseTo(0.4, 6);
    expect(got[2]).toBeCloseTo(0.25, 6);
    expect(out.rejected).toEqual([]);
    expect(dp.name).toBe('fedavgm');
    expect(dp.usesPreviousInput).toBe(true);
  });

  it('refuses a clip norm or noise multiplier out of range, and aggregates nothing from nothing', async () => {
    const inner = new FedAvg({ fraction: 1 });
    expect(() => new DpFedAvg(inner, { clipNorm: 0, noiseMultiplier: 1, noise: seeded() })).toThrow(
      /clip norm/,
    );
    expect(
      () => new DpFedAvg(inner, { clipNorm: 1, noiseMultiplier: -1, noise: seeded() }),
    ).toThrow(/noise multiplier/);
    const dp = new DpFedAvg(inner, { clipNorm: 1, noiseMultiplier: 1, noise: seeded() });
    expect((await dp.aggregateFit(context(model([0], [0])), [])).weights).toBeNull();
  });

  it('adaptive clipping moves C geometrically to the target quantile of the update norms', async () => {
    const w = [{ name: 'w', shape: [1], data: new Float32Array(1) }];
    // Update norms 1, 2 and 4: the median is 2.
    const updates = [1, 2, 4].map((n, j) =>
      result(`h${j}`, 1, [{ ...w[0], data: Float32Array.of(n) }]),
    );
    const dp = new DpFedAvg(new FedAvg({ fraction: 1 }), {
      clipNorm: 0.1,
      noiseMultiplier: 0,
      noise: seeded(),
      adaptive: { targetQuantile: 0.5, learningRate: 0.2, countNoise: 1e-9 },
    });
    const first = await dp.aggregateFit(context(w), updates);
    // Nothing unclipped: b = 0, so C grows by exp(0.2 x 0.5).
    expect(first.metrics.dp).toMatchObject({
      clipNorm: 0.1,
      unclippedFraction: expect.closeTo(0, 6),
    });
    expect(dp.currentClipNorm).toBeCloseTo(0.1 * Math.exp(0.1), 6);
    for (let round = 0; round < 80; round++) await dp.aggregateFit(context(w), updates);
    expect(dp.currentClipNorm).toBeGreaterThan(1.9);
    expect(dp.currentClipNorm).toBeLessThan(2.1);
  });

  it('splits z between the updates and the count so that the total is z (Andrew et al. Thm 1)', () => {
    const z = 1.2;
    const sigmaB = 3;
    const zDelta = updateNoiseMultiplier(z, {
      targetQuantile: 0.5,
      learningRate: 0.2,
      countNoise: sigmaB,
    });
    expect((zDelta ** -2 + (2 * sigmaB) ** -2) ** -0.5).toBeCloseTo(z, 12);
    expect(zDelta).toBeGreaterThan(z);
    expect(updateNoiseMultiplier(z)).toBe(z);
    expect(() =>
      updateNoiseMultiplier(2, { targetQuantile: 0.5, learningRate: 0.2, countNoise: 0.9 }),
    ).toThrow(/sigma_b > z \/ 2/);
  });
});
