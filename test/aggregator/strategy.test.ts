// POST /rounds' aggregation strategy: FedAvgM's server momentum, rebuilt from the stored global
// models (PGlite only: nothing engine-specific).
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { weightedAverage } from '../../shared/federated/fedavg.ts';
import { serverMomentumStep } from '../../shared/federated/fedavgm.ts';
import { inMemoryWeights } from '../../shared/federated/strategy-utils.ts';
import { decodeWeights, unpackWeights, type NamedWeights } from '../../shared/weights/index.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import type { FakeBehaviour, FakeHospital } from './fake-hospital.ts';
import { AggregatorHarness } from './harness.ts';
import { ADMIN_TOKEN, json, waitForRun, type RunDetailBody } from './helpers.ts';

/** Deterministic updates that pull in different directions, of unequal sizes. */
const HOSPITALS: Record<string, Required<Pick<FakeBehaviour, 'makeUpdate' | 'numSamples'>>> = {
  'hospital-a': {
    numSamples: 10,
    makeUpdate: (global, round) =>
      global.map((w) => ({ ...w, data: w.data.map((v) => v + 0.01 * round) })),
  },
  'hospital-b': {
    numSamples: 30,
    makeUpdate: (global, round) =>
      global.map((w) => ({ ...w, data: w.data.map((v) => v * 0.99 - 0.002 * round) })),
  },
};

describe('the aggregation strategy of a run', () => {
  const h = new AggregatorHarness();

  beforeAll(async () => {
    await useTestBackend();
  });

  afterEach(() => h.close());

  async function setUp(specs: Record<string, FakeBehaviour>): Promise<FakeHospital[]> {
    await h.start('pglite');
    return Object.values(await h.addHospitals(specs));
  }

  async function modelWeights(id: string | null): Promise<NamedWeights[]> {
    const res = await fetch(`${h.agg.url}/models/${id}/weights`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(200);
    const { manifest, blob } = unpackWeights(Buffer.from(await res.arrayBuffer()));
    return decodeWeights(manifest, blob);
  }

  it('runs FedAvgM: each output is the server momentum step over the stored inputs', async () => {
    await setUp(HOSPITALS);
    const started = await h.postRun({
      rounds: 3,
      strategy: { name: 'fedavgm', serverMomentum: 0.5 },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const run = await waitForRun(h.agg.url, started.body.id);
    expect(run.status, run.failureReason ?? '').toBe('completed');
    const strategy = { name: 'fedavgm', serverMomentum: 0.5, serverLearningRate: 1 };
    expect(run.settings.strategy).toEqual(strategy);
    expect(run.rounds).toHaveLength(3);

    await expectMomentumSteps(run, strategy);
  });

  it('goes on with the same momentum after an aggregator restart', async () => {
    const fakes = await setUp(HOSPITALS);
    const holds = fakes.map((f) => f.hold(2));
    const started = await h.postRun({
      rounds: 3,
      strategy: { name: 'fedavgm', serverMomentum: 0.5 },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    await waitForRun(h.agg.url, started.body.id, (r) => r.rounds[1]?.status === 'dispatched');
    while (!fakes.every((f) => f.trains.length === 2)) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // Stopped mid-round 2: the new aggregator rebuilds the velocity from the stored models.
    await h.restart();
    holds.forEach((release) => release());
    const run = await waitForRun(h.agg.url, started.body.id);
    expect(run.status, run.failureReason ?? '').toBe('completed');
    expect(fakes[0].trains.map((t) => t.body.round)).toEqual([1, 2, 2, 3]);
    await expectMomentumSteps(run, { name: 'fedavgm', serverMomentum: 0.5, serverLearningRate: 1 });
  });

  /** Each round's output is serverMomentumStep over its input, the previous input and HOSPITALS. */
  async function expectMomentumSteps(
    run: RunDetailBody,
    strategy: { name: string; serverMomentum: number; serverLearningRate: number },
  ): Promise<void> {
    const settings = {
      momentum: strategy.serverMomentum,
      serverLearningRate: strategy.serverLearningRate,
    };
    let previousInput: NamedWeights[] | undefined;
    for (const round of run.rounds) {
      expect(round.metrics?.strategy).toEqual(strategy);
      const input = await modelWeights(round.inputModelId);
      const output = await modelWeights(round.outputModelId);
      // The round's accepted updates: on a loaded machine a restarted aggregator may give a
      // slow fake node up and complete the round with the other one (minHospitals allows it).
      const accepted = new Set(
        round.updates.filter((u) => u.status === 'accepted').map((u) => u.hospitalName),
      );
      expect(accepted.size, JSON.stringify(round.updates)).toBeGreaterThan(0);
      const updates = Object.entries(HOSPITALS)
        .filter(([name]) => accepted.has(name))
        .map(([name, h]) => ({
          clientId: name,
          numSamples: h.numSamples,
          weights: inMemoryWeights(h.makeUpdate(input, round.round)),
        }));
      const average = await weightedAverage(input, updates);
      const expected = serverMomentumStep(input, previousInput, average, settings);
      expect(output.map((w) => w.name)).toEqual(expected.map((w) => w.name));
      output.forEach((w, i) => {
        expect(
          Array.from(w.data),
          `round ${round.round}, ${w.name}; updates ${JSON.stringify(round.updates)}`,
        ).toEqual(Array.from(expected[i].data));
      });
      if (round.round > 1) {
        // The momentum makes a difference from FedAvg from the second round on.
        expect(output.some((w, i) => w.data.some((v, k) => v !== average[i].data[k]))).toBe(true);
      }
      previousInput = input;
    }
  }

  it('runs FedAvg by default, recording it, and refuses bad strategies with 400', async () => {
    await setUp(HOSPITALS);
    for (const [strategy, field] of [
      [{ name: 'fedprox' }, 'strategy/name'],
      [{ name: 'fedavgm', serverMomentum: 1 }, 'strategy/serverMomentum'],
      [{ name: 'fedavgm', serverMomentum: -0.1 }, 'strategy/serverMomentum'],
      [{ name: 'fedavgm', serverLearningRate: 0 }, 'strategy/serverLearningRate'],
      [{ name: 'fedavgm', momentum: 0.5 }, 'momentum'],
      [{ serverMomentum: 0.5 }, 'name'],
      [{ name: 'fedavg', serverMomentum: 0.5 }, 'strategy/serverMomentum'],
      ['fedavgm', 'strategy'],
    ] as const) {
      const res = await h.postRun({ strategy });
      expect(res.status, JSON.stringify(strategy)).toBe(400);
      expect(res.body.error.message, JSON.stringify(strategy)).toContain(field);
    }
    expect((await json<{ runs: unknown[] }>(`${h.agg.url}/rounds`)).body.runs).toEqual([]);

    const started = await h.postRun({ rounds: 2 });
    expect(started.status).toBe(202);
    const run = await waitForRun(h.agg.url, started.body.id);
    expect(run.status, run.failureReason ?? '').toBe('completed');
    expect(run.settings.strategy).toEqual({ name: 'fedavg' });
    const last = run.rounds[1];
    expect(last.metrics?.strategy).toEqual({ name: 'fedavg' });
    const input = await modelWeights(last.inputModelId);
    const average = await weightedAverage(
      input,
      Object.entries(HOSPITALS).map(([name, h]) => ({
        clientId: name,
        numSamples: h.numSamples,
        weights: inMemoryWeights(h.makeUpdate(input, 2)),
      })),
    );
    const output = await modelWeights(last.outputModelId);
    output.forEach((w, i) => expect(Array.from(w.data)).toEqual(Array.from(average[i].data)));
  });
});
