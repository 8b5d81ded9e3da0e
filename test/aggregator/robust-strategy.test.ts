// POST /rounds with the robust strategies: Krum's selection and scores in the round's metrics,
// the trimmed mean's output, a round Krum refuses, and the settings refused with 400 (PGlite).
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TrimmedMean } from '../../shared/federated/trimmed-mean.ts';
import { inMemoryWeights, weightedAverage } from '../../shared/federated/strategy-utils.ts';
import type { ClientResult } from '../../shared/federated/strategy.ts';
import { decodeWeights, unpackWeights, type NamedWeights } from '../../shared/weights/index.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import type { FakeBehaviour } from './fake-hospital.ts';
import { AggregatorHarness } from './harness.ts';
import { ADMIN_TOKEN } from './helpers.ts';

const shift =
  (by: number) =>
  (global: NamedWeights[]): NamedWeights[] =>
    global.map((w) => ({ ...w, data: w.data.map((v) => v + by) }));

/** Four honest hospitals close together, one far off with a large sample claim. */
const HOSPITALS: Record<string, FakeBehaviour> = {
  'hospital-a': { numSamples: 10, makeUpdate: shift(0.01) },
  'hospital-b': { numSamples: 10, makeUpdate: shift(0.012) },
  'hospital-c': { numSamples: 10, makeUpdate: shift(0.011) },
  'hospital-d': { numSamples: 10, makeUpdate: shift(0.02) },
  'hospital-z': { numSamples: 1000, makeUpdate: shift(5) },
};

interface KrumMetrics {
  byzantine: number;
  select: number;
  scores: { clientId: string; score: number; selected: boolean }[];
}

describe('robust strategies in POST /rounds', () => {
  const h = new AggregatorHarness();
  beforeAll(useTestBackend);
  afterEach(() => h.close());

  async function modelWeights(id: string | null): Promise<NamedWeights[]> {
    const res = await fetch(`${h.agg.url}/models/${id}/weights`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(200);
    const { manifest, blob } = unpackWeights(Buffer.from(await res.arrayBuffer()));
    return decodeWeights(manifest, blob);
  }

  function updates(input: NamedWeights[], names: string[]): ClientResult[] {
    return names.map((name) => ({
      clientId: name,
      numSamples: HOSPITALS[name].numSamples ?? 1,
      weights: inMemoryWeights(HOSPITALS[name].makeUpdate?.(input, 1) ?? input),
    }));
  }

  it('krum leaves the far update out, averages the m best unweighted and reports the scores', async () => {
    await h.start('pglite');
    const ids = await h.addHospitals(HOSPITALS);
    const nameOf = new Map(Object.entries(ids).map(([name, fake]) => [fake.id, name]));
    // The screen is off: it would leave the far update out first, and Krum's f = 1 needs five.
    const run = await h.runToEnd({
      rounds: 1,
      maxUpdateNormRatio: 0,
      promote: false,
      strategy: { name: 'krum', krumSelect: 2 },
    });
    expect(run.status, run.failureReason ?? '').toBe('completed');
    expect(run.settings.strategy).toEqual({ name: 'krum', byzantine: 1, krumSelect: 2 });
    const round = run.rounds[0];
    const krum = (round.metrics?.aggregation as { krum: KrumMetrics }).krum;
    expect(krum.byzantine).toBe(1);
    const selected = krum.scores.filter((s) => s.selected).map((s) => nameOf.get(s.clientId));
    expect(selected.sort()).toEqual(['hospital-b', 'hospital-c']);
    const far = krum.scores.find((s) => nameOf.get(s.clientId) === 'hospital-z');
    expect(far?.score).toBeGreaterThan(
      Math.max(...krum.scores.filter((s) => s !== far).map((s) => s.score)),
    );
    const input = await modelWeights(round.inputModelId);
    const expected = await weightedAverage(
      input,
      updates(input, ['hospital-b', 'hospital-c']).map((u) => ({ ...u, numSamples: 1 })),
    );
    const output = await modelWeights(round.outputModelId);
    output.forEach((w, i) => expect(Array.from(w.data)).toEqual(Array.from(expected[i].data)));
  });

  it('trimmed-mean trims the far update per coordinate and says how many it trimmed', async () => {
    await h.start('pglite');
    await h.addHospitals(HOSPITALS);
    const trimmed = await h.runToEnd({
      rounds: 1,
      maxUpdateNormRatio: 0,
      promote: false,
      strategy: { name: 'trimmed-mean' },
    });
    expect(trimmed.status, trimmed.failureReason ?? '').toBe('completed');
    expect(trimmed.settings.strategy).toEqual({ name: 'trimmed-mean', trimBeta: 0.2 });
    const tRound = trimmed.rounds[0];
    expect(tRound.metrics?.aggregation).toEqual({
      trimmedMean: { beta: 0.2, clients: 5, trimmedEachEnd: 1 },
    });
    const tInput = await modelWeights(tRound.inputModelId);
    const want = await new TrimmedMean({ fraction: 1, beta: 0.2 }).aggregateFit(
      { round: 1, current: tInput, previousInput: async () => undefined },
      updates(tInput, Object.keys(HOSPITALS)),
    );
    const got = await modelWeights(tRound.outputModelId);
    got.forEach((w, i) =>
      expect(Array.from(w.data)).toEqual(Array.from(want.weights?.[i].data ?? [])),
    );
  });

  it('fails a round with fewer than 2f + 3 updates for krum, and refuses foreign or bad settings', async () => {
    await h.start('pglite');
    const { 'hospital-z': _far, ...four } = HOSPITALS;
    await h.addHospitals(four);
    for (const [strategy, field] of [
      [{ name: 'fedavg', trimBeta: 0.1 }, 'strategy/trimBeta'],
      [{ name: 'median', byzantine: 1 }, 'strategy/byzantine'],
      [{ name: 'trimmed-mean', trimBeta: 0.5 }, 'strategy/trimBeta'],
      [{ name: 'krum', byzantine: 1.5 }, 'strategy/byzantine'],
      [{ name: 'krum', krumSelect: 0 }, 'strategy/krumSelect'],
    ] as const) {
      const res = await h.postRun({ strategy });
      expect(res.status, JSON.stringify(strategy)).toBe(400);
      expect(res.body.error.message, JSON.stringify(strategy)).toContain(field);
    }
    const run = await h.runToEnd({ rounds: 1, maxUpdateNormRatio: 0, strategy: { name: 'krum' } });
    expect(run.status).toBe('failed');
    expect(run.failureReason).toContain(
      'krum refused the round: Krum with f = 1 needs n >= 2f + 3 = 5 updates, got 4',
    );
  });
});
