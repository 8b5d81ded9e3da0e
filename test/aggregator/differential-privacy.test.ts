// POST /rounds' differentialPrivacy: DP-FedAvg over fake hospitals, epsilon after every round,
// the stop on the budget, and the settings it refuses (PGlite only: nothing engine-specific).
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clipFactor } from '../../shared/federated/dp-fedavg.ts';
import { dpEpsilon } from '../../shared/privacy/rdp-accountant.ts';
import { decodeWeights, unpackWeights, type NamedWeights } from '../../shared/weights/index.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import type { FakeBehaviour } from './fake-hospital.ts';
import { AggregatorHarness } from './harness.ts';
import { ADMIN_TOKEN, json, waitForRun } from './helpers.ts';

/** Updates of very different sizes: only the first stays under the clip norm. */
const shift = (scale: number) => (global: NamedWeights[], round: number) =>
  global.map((w) => ({ ...w, data: w.data.map((v, k) => v + scale * (((k + round) % 7) - 3)) }));
const HOSPITALS: Record<string, FakeBehaviour> = {
  'hospital-a': { numSamples: 10, makeUpdate: shift(1e-5) },
  'hospital-b': { numSamples: 500, makeUpdate: shift(1e-2) },
  'hospital-c': { numSamples: 40, makeUpdate: shift(1) },
};
const DP = { clipNorm: 0.5, noiseMultiplier: 2, delta: 1e-5, targetEpsilon: 3.5 };
const epsilon = (rounds: number) =>
  dpEpsilon({ sampleRate: 1, noiseMultiplier: 2, steps: rounds, delta: 1e-5 }).epsilon;

interface PrivacyBody {
  epsilon: number;
  delta: number;
  noiseMultiplier: number;
  clipNorm: number;
  rounds: number;
  stopReason?: string | null;
}

describe('a differentially private run', () => {
  const h = new AggregatorHarness();
  beforeAll(useTestBackend);
  afterEach(() => h.close());

  async function weightsOf(id: string | null): Promise<NamedWeights[]> {
    const res = await fetch(`${h.agg.url}/models/${id}/weights`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(200);
    const { manifest, blob } = unpackWeights(Buffer.from(await res.arrayBuffer()));
    return decodeWeights(manifest, blob);
  }

  it('refuses bad settings, reports epsilon per round, stops before the budget is exceeded, adapts the clip norm', async () => {
    await h.start('pglite');
    await h.addHospitals(HOSPITALS);
    // Refused first (one aggregator start for both halves: PGlite's set-up is the slow part).
    for (const [body, field] of [
      [{ differentialPrivacy: { ...DP, targetEpsilon: 1 } }, 'differentialPrivacy/targetEpsilon'],
      [{ differentialPrivacy: DP, strategy: { name: 'fedmedian' } }, 'strategy/name'],
      [{ differentialPrivacy: { ...DP, clipNorm: 0 } }, 'clipNorm'],
      [{ differentialPrivacy: { ...DP, delta: 1 } }, 'delta'],
      [{ differentialPrivacy: { clipNorm: 1, noiseMultiplier: 1 } }, 'targetEpsilon'],
      [
        { differentialPrivacy: { ...DP, adaptiveClipping: { countNoise: 0.5 } } },
        'adaptiveClipping/countNoise',
      ],
    ] as const) {
      const res = await h.postRun(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.message, JSON.stringify(body)).toContain(field);
    }
    expect((await json<{ runs: unknown[] }>(`${h.agg.url}/rounds`)).body.runs).toEqual([]);
    // maxUpdateNormRatio 10 is overridden: a DP run has no update-norm screen.
    const started = await h.postRun({ rounds: 4, differentialPrivacy: DP, maxUpdateNormRatio: 10 });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const run = await waitForRun(h.agg.url, started.body.id);
    expect(run.status, run.failureReason ?? '').toBe('completed');
    // epsilon(2) = 3.19 <= 3.5 < epsilon(3) = 4.01: two rounds, then the stop.
    expect(run.rounds.map((r) => r.status)).toEqual(['completed', 'completed']);
    const eps = run.rounds.map((r) => (r.metrics?.privacy as PrivacyBody).epsilon);
    eps.forEach((e, i) => expect(e).toBeCloseTo(epsilon(i + 1), 10));
    expect(eps[0]).toBeLessThan(eps[1]);
    expect(run.rounds[0].metrics?.privacy).toMatchObject({
      delta: 1e-5,
      noiseMultiplier: 2,
      clipNorm: 0.5,
    });
    // No per-hospital update norm is published for a DP run.
    expect(run.rounds[0].metrics?.updateNorms).toEqual([]);

    const detail = (run as unknown as { privacy: PrivacyBody }).privacy;
    expect(detail).toMatchObject({ rounds: 2, targetEpsilon: 3.5, delta: 1e-5 });
    expect(detail.epsilon).toBeCloseTo(epsilon(2), 10);
    expect(detail.stopReason).toMatch(
      /^privacy budget: round 3 would bring epsilon to 4\.0\d+ > targetEpsilon 3\.5/,
    );
    expect(run.settings).toMatchObject({ maxUpdateNormRatio: 0, differentialPrivacy: DP });
    expect(run.finalModelId).toBe(run.rounds[1].outputModelId);

    // The final model says which guarantee it was trained under.
    const model = await json<{ metadata: { privacy: PrivacyBody & { guarantee: string } } }>(
      `${h.agg.url}/models/${run.finalModelId}`,
    );
    expect(model.body.metadata.privacy.epsilon).toBeCloseTo(epsilon(2), 10);
    expect(model.body.metadata.privacy.guarantee).toMatch(/hospital level/);

    // Round 1's output: the clipped equal-weight mean plus noise of std z C / m = 1/3.
    const input = await weightsOf(run.rounds[0].inputModelId);
    const output = await weightsOf(run.rounds[0].outputModelId);
    const updates = Object.values(HOSPITALS).map((b) => b.makeUpdate!(input, 1));
    const scales = updates.map((u) => {
      let sq = 0;
      u.forEach((w, i) => w.data.forEach((v, k) => (sq += (v - input[i].data[k]) ** 2)));
      return clipFactor(Math.sqrt(sq), DP.clipNorm);
    });
    expect(scales[0]).toBe(1);
    expect(scales[2]).toBeLessThan(1);
    let n = 0;
    let sq = 0;
    output.forEach((w, i) =>
      w.data.forEach((v, k) => {
        const mean =
          updates.reduce((s, u, j) => s + scales[j] * (u[i].data[k] - input[i].data[k]), 0) / 3;
        const residual = v - input[i].data[k] - mean;
        sq += residual * residual;
        n++;
      }),
    );
    // Tens of thousands of coordinates: the sample std is within a few percent of 1/3.
    expect(n).toBeGreaterThan(10_000);
    expect(Math.abs(Math.sqrt(sq / n) / (1 / 3) - 1)).toBeLessThan(0.05);

    // Adaptive clipping: each round's C is the previous round's nextClipNorm, read back from
    // the stored round (a restarted aggregator would read the same).
    const adaptive = await h.postRun({
      rounds: 3,
      differentialPrivacy: {
        ...DP,
        clipNorm: 0.01,
        targetEpsilon: 100,
        adaptiveClipping: { learningRate: 0.5, countNoise: 2 },
      },
    });
    expect(adaptive.status, JSON.stringify(adaptive.body)).toBe(202);
    const second = await waitForRun(h.agg.url, adaptive.body.id);
    expect(second.status, second.failureReason ?? '').toBe('completed');
    const figures = second.rounds.map(
      (r) => (r.metrics?.aggregation as { dp: { clipNorm: number; nextClipNorm: number } }).dp,
    );
    expect(figures[0].clipNorm).toBe(0.01);
    for (let i = 1; i < 3; i++) expect(figures[i].clipNorm).toBe(figures[i - 1].nextClipNorm);
    second.rounds.forEach((r, i) =>
      expect((r.metrics?.privacy as PrivacyBody).clipNorm).toBe(figures[i].clipNorm),
    );
    expect(second.settings).toMatchObject({
      differentialPrivacy: { adaptiveClipping: { targetQuantile: 0.5, learningRate: 0.5 } },
    });
  });
});
