// POST /rounds' classWeights: 'federation' reads every active hospital's training-split counts
// once, at the run's start, and sends the weights of their sums to every node in every round;
// they are stored with the run (a restart uses them again) and shown with their basis.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { federationClassWeights } from '../../services/aggregator/lib/class-weights.ts';
import { classWeightsFromCounts } from '../../shared/data/class-balance.ts';
import type { DatabaseKind } from '../../shared/db/index.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import type { FakeBehaviour } from './fake-hospital.ts';
import { AggregatorHarness, type RegisteredFake } from './harness.ts';
import { deadUrl, json, registerHospital, waitForRun, type RunDetailBody } from './helpers.ts';

/** Label-skewed hospitals: hospital-a has a single PNEUMONIA image among 954. */
const SKEWED: Record<string, FakeBehaviour> = {
  'hospital-a': { trainCounts: [953, 1], numSamples: 954 },
  'hospital-b': { trainCounts: [100, 300], numSamples: 400 },
  'hospital-c': { trainCounts: [10, 500], numSamples: 510 },
};
const SUMMED: [number, number] = [1063, 801];

type Detail = RunDetailBody & { classWeights: Record<string, unknown> };

describe('federationClassWeights', () => {
  it('gives classWeightsFromCounts of the summed counts, keeping the basis', () => {
    const basis: Record<string, [number, number]> = { a: [953, 1], b: [100, 300], c: [10, 500] };
    const at = new Date('2025-01-02T03:04:05.000Z');
    expect(federationClassWeights(basis, at)).toEqual({
      weights: classWeightsFromCounts(SUMMED),
      counts: SUMMED,
      basis,
      readAt: at.toISOString(),
    });
    // Pooled weights, not hospital-a's own (whose single PNEUMONIA image would weigh 477).
    expect(classWeightsFromCounts([953, 1])[1]).toBe(477);
    expect(classWeightsFromCounts(SUMMED)[1]).toBeCloseTo(1864 / 1602, 12);
  });
});

describe.each(['pglite', 'postgres'] as const)(
  'class weights of a run on %s',
  (kind: DatabaseKind) => {
    const h = new AggregatorHarness();

    beforeAll(async () => {
      await useTestBackend();
    });

    afterEach(() => h.close());

    const finishedRun = async (body: Record<string, unknown>): Promise<Detail> =>
      (await h.runToEnd(body)) as Detail;

    /** What a federation run over SKEWED must show: the weights with their basis. */
    function expectedView(fakes: Record<string, RegisteredFake>) {
      return {
        mode: 'federation',
        weights: classWeightsFromCounts(SUMMED),
        counts: SUMMED,
        basis: Object.fromEntries(
          Object.entries(SKEWED).map(([name, b]) => [fakes[name].id, b.trainCounts]),
        ),
        readAt: expect.any(String),
      };
    }

    it('federation: every node gets the weights of the summed counts, stored and shown', async () => {
      await h.start(kind);
      const fakes = await h.addHospitals(SKEWED);
      // C = 0.5: two of the three hospitals train each round, yet all three make the weights.
      const run = await finishedRun({ classWeights: 'federation', clientFraction: 0.5, rounds: 3 });
      expect(run.status, run.failureReason ?? '').toBe('completed');
      expect(run.settings.classWeights).toBe('federation');
      const view = expectedView(fakes);
      expect(run.classWeights).toEqual(view);
      const weights = classWeightsFromCounts(SUMMED);
      const trains = Object.values(fakes).flatMap((f) => f.trains.map((t) => t.body));
      expect(trains).toHaveLength(6);
      for (const body of trains) {
        expect(body.settings.classWeights, `round ${body.round}`).toEqual(weights);
        expect(body.settings.classBalancing).toBe('weights');
      }
      for (const fake of Object.values(fakes)) expect(fake.infos, fake.name).toBe(1);
      for (const round of run.rounds) {
        expect(round.selectedHospitalIds).toHaveLength(2);
        expect(round.metrics?.classWeights, `round ${round.round}`).toEqual({
          ...view,
          readAt: run.classWeights.readAt,
        });
      }

      // Stored with the run's settings, and audited once.
      const stored = await h.db.prisma.trainingRun.findUniqueOrThrow({ where: { id: run.id } });
      expect((stored.settings as Record<string, unknown>).federationClassWeights).toEqual({
        ...view,
        mode: undefined,
        readAt: run.classWeights.readAt,
      });
      const audits = await h.db.prisma.auditEvent.findMany({
        where: { action: 'run.class-weights' },
      });
      expect(audits.map((a) => [a.subjectId, a.details])).toEqual([
        [run.id, { weights, counts: SUMMED, basis: view.basis, readAt: run.classWeights.readAt }],
      ]);
      // The list shows the mode; the stored weights stay out of `settings`.
      const list = await json<{ runs: { settings: Record<string, unknown> }[] }>(
        `${h.agg.url}/rounds`,
      );
      expect(list.body.runs[0].settings.classWeights).toBe('federation');
      expect(list.body.runs[0].settings).not.toHaveProperty('federationClassWeights');
      expect(run.settings).not.toHaveProperty('federationClassWeights');
    });

    it('resumes after a restart with the stored weights, reading no counts again', async () => {
      await h.start(kind);
      const fakes = await h.addHospitals(SKEWED);
      const holds = Object.values(fakes).map((f) => f.hold(2));
      const started = await h.postRun({ classWeights: 'federation', rounds: 3 });
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      await waitForRun(h.agg.url, started.body.id, (r) => r.rounds[1]?.status === 'dispatched');
      while (!Object.values(fakes).every((f) => f.trains.length === 2)) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // Counts read now would give other weights; a hospital registered now is not in the basis.
      for (const fake of Object.values(fakes)) fake.behaviour.trainCounts = [5, 5];
      const late = await h.addHospitals({ 'hospital-d': { trainCounts: [0, 1000] } });
      await h.restart();
      holds.forEach((release) => release());
      const run = (await waitForRun(h.agg.url, started.body.id)) as Detail;
      expect(run.status, run.failureReason ?? '').toBe('completed');
      expect(run.classWeights).toEqual(expectedView(fakes));
      const weights = classWeightsFromCounts(SUMMED);
      for (const fake of Object.values(fakes)) {
        expect(fake.trains.map((t) => t.body.round)).toEqual([1, 2, 2, 3]);
        for (const { body } of fake.trains) expect(body.settings.classWeights).toEqual(weights);
      }
      expect(Object.values(fakes).map((f) => f.infos)).toEqual([1, 1, 1]);
      expect(late['hospital-d'].infos).toBe(0);
      expect(late['hospital-d'].trains).toEqual([]);
      for (const round of run.rounds) {
        expect(round.selectedHospitalIds).not.toContain(late['hospital-d'].id);
      }
    });

    it("fails the run at its start, with the reason, when a hospital's counts cannot be read", async () => {
      await h.start(kind);
      const fakes = await h.addHospitals({
        'hospital-a': SKEWED['hospital-a'],
        'hospital-b': { ...SKEWED['hospital-b'], infoStatus: 503 },
      });
      await registerHospital(h.agg.url, 'hospital-gone', await deadUrl());
      const run = await finishedRun({ classWeights: 'federation' });
      expect(run.status).toBe('failed');
      expect(run.failureReason).toMatch(
        /^federation class weights: the class counts of 2 of 3 active hospital\(s\) could not be read/,
      );
      expect(run.failureReason).toMatch(
        /hospital-b: GET http:\/\/127\.0\.0\.1:\d+\/info answered 503: no counts here/,
      );
      expect(run.failureReason).toMatch(
        /hospital-gone: GET http:\/\/127\.0\.0\.1:\d+\/info failed: ECONNREFUSED/,
      );
      expect(run.failureReason).not.toMatch(/hospital-a/);
      expect(run.currentRound).toBe(0);
      expect(run.rounds).toEqual([]);
      expect(run.classWeights).toEqual({
        mode: 'federation',
        weights: null,
        counts: null,
        basis: null,
        readAt: null,
      });
      expect(Object.values(fakes).flatMap((f) => f.trains)).toEqual([]);
      expect(await h.db.prisma.modelVersion.count()).toBe(0);
      const failed = await h.db.prisma.auditEvent.findMany({ where: { action: 'run.failed' } });
      expect(failed.map((a) => a.details)).toEqual([{ reason: run.failureReason }]);

      // Disabled, the broken hospitals are left out: the next run goes on without them.
      for (const hospital of (await h.db.prisma.hospital.findMany()).filter(
        (h) => h.name !== 'hospital-a',
      )) {
        await h.db.prisma.hospital.update({
          where: { id: hospital.id },
          data: { status: 'disabled' },
        });
      }
      const next = await finishedRun({ classWeights: 'federation', rounds: 1 });
      expect(next.status, next.failureReason ?? '').toBe('completed');
      expect(next.classWeights).toMatchObject({
        basis: { [fakes['hospital-a'].id]: [953, 1] },
        weights: classWeightsFromCounts([953, 1]),
      });
    });

    it('local (the default): nothing read, no class weights sent; a bad mode is a 400', async () => {
      await h.start(kind);
      const fakes = await h.addHospitals(SKEWED);
      const bad = await h.postRun({ classWeights: 'global' });
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toContain('classWeights');
      const run = await finishedRun({});
      expect(run.status, run.failureReason ?? '').toBe('completed');
      expect(run.settings.classWeights).toBe('local');
      const local = { mode: 'local', weights: null, counts: null, basis: null, readAt: null };
      expect(run.classWeights).toEqual(local);
      for (const round of run.rounds) expect(round.metrics?.classWeights).toEqual(local);
      for (const fake of Object.values(fakes)) {
        expect(fake.infos).toBe(0);
        expect(fake.trains).toHaveLength(2);
        for (const { body } of fake.trains) {
          expect(body.settings).not.toHaveProperty('classWeights');
          expect(body.settings).not.toHaveProperty('classBalancing');
        }
      }
    });
  },
);
