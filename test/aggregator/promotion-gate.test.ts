// The promotion gate of POST /rounds (promotionGate) and the always-on guard against a final
// model that calls every validation image the same class: a refused run completes, its model
// is stored, production is left as it is and the reason is recorded (run, audit, event).
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { promotionRefusal, type GatedModel } from '../../services/aggregator/lib/promotion-gate.ts';
import type { DatabaseKind } from '../../shared/db/index.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { DEFAULT_EVALUATION } from './fake-hospital.ts';
import { AggregatorHarness } from './harness.ts';
import { ADMIN_TOKEN, json, waitForRun, type RunDetailBody } from './helpers.ts';

type Detail = RunDetailBody & { promotionRefusedReason: string | null };

const HEALTHY = DEFAULT_EVALUATION;

/** A node's answer for a model that calls every image PNEUMONIA (3 positives, 2 negatives). */
const ALL_PNEUMONIA = {
  n: 5,
  accuracy: 0.6,
  precision: 0.6,
  recall: 1,
  specificity: 0,
  f1: 0.75,
  auc: 0.5,
  confusion: { tp: 3, fp: 2, tn: 0, fn: 0 },
};

/** A model version with this validation summary and threshold. */
function version(validation: Record<string, unknown> | null, threshold = 0.5): GatedModel {
  return {
    id: 'model-1',
    version: 7,
    metrics: { train: {}, validation, evaluationFailures: [] },
    metadata: { threshold: { threshold, rule: 'x' } },
  };
}

const atThreshold = (threshold: number, confusion: Record<string, number>, extra = {}) => ({
  threshold,
  n: 10,
  hospitals: 1,
  accuracy: 0.5,
  precision: 0.5,
  recall: 0.5,
  specificity: 0.5,
  f1: 0.5,
  confusion,
  ...extra,
});

describe('promotionRefusal', () => {
  it('passes a healthy model without a gate, and any model without a summary or gate', () => {
    expect(promotionRefusal(undefined, version({ ...HEALTHY, atThreshold: null }))).toBeNull();
    expect(promotionRefusal(undefined, version(null))).toBeNull();
    expect(promotionRefusal(undefined, { ...version(null), metrics: null })).toBeNull();
  });

  it('refuses a model that predicts one class with both present, saying so', () => {
    const reason = promotionRefusal(undefined, version({ ...ALL_PNEUMONIA, atThreshold: null }));
    expect(reason).toMatch(
      /^the final model calls every validation image PNEUMONIA at its threshold 0\.5 \(n = 5: tp 3, fp 2, tn 0, fn 0\)/,
    );
    expect(reason).toContain('POST /models/model-1/promote');
    const normal = { tp: 0, fp: 0, tn: 2, fn: 3 };
    expect(promotionRefusal(undefined, version({ ...HEALTHY, confusion: normal }))).toMatch(
      /every validation image NORMAL/,
    );
    // One class only in the validation data: predicting it is no sign of collapse.
    const onlyPositives = { tp: 5, fp: 0, tn: 0, fn: 0 };
    expect(promotionRefusal(undefined, version({ ...HEALTHY, confusion: onlyPositives }))).toBe(
      null,
    );
  });

  it("judges at the model's own threshold when the summary has it", () => {
    // Everything PNEUMONIA at 0.5, but calibrated to 0.62 it tells the classes apart.
    const calibrated = { ...ALL_PNEUMONIA, atThreshold: atThreshold(0.62, HEALTHY.confusion) };
    expect(promotionRefusal(undefined, version(calibrated, 0.62))).toBeNull();
    // Fine at 0.5, everything NORMAL at its threshold 0.9.
    const high = { ...HEALTHY, atThreshold: atThreshold(0.9, { tp: 0, fp: 0, tn: 4, fn: 6 }) };
    expect(promotionRefusal(undefined, version(high, 0.9))).toMatch(
      /every validation image NORMAL at its threshold 0\.9 \(n = 10/,
    );
  });

  it('uses the counts at 0.5 for another threshold only when they decide it', () => {
    const allNormal = { ...HEALTHY, confusion: { tp: 0, fp: 0, tn: 4, fn: 6 }, atThreshold: null };
    // Nothing reaches 0.5, so nothing reaches 0.735 either.
    expect(promotionRefusal(undefined, version(allNormal, 0.735))).toMatch(
      /NORMAL at the hospitals' evaluation threshold 0\.5, so also at its higher threshold 0\.735/,
    );
    // Below 0.5 some images may be PNEUMONIA: not known, not refused.
    expect(promotionRefusal(undefined, version(allNormal, 0.335))).toBeNull();
    const allPneumonia = { ...ALL_PNEUMONIA, atThreshold: null };
    expect(promotionRefusal(undefined, version(allPneumonia, 0.335))).toMatch(/lower threshold/);
    expect(promotionRefusal(undefined, version(allPneumonia, 0.735))).toBeNull();
  });

  it('checks each minimum of the gate, naming the value and the limit', () => {
    const healthy = version({ ...HEALTHY, atThreshold: null });
    expect(promotionRefusal({ minAuc: 0.9, minAccuracy: 0.8 }, healthy)).toBeNull();
    const reason = promotionRefusal(
      { minAuc: 0.95, minRecall: 0.85, minSpecificity: 0.5 },
      healthy,
    );
    expect(reason).toMatch(/^promotionGate\.minAuc: validation AUC 0\.9 < 0\.95; /);
    expect(reason).toContain(
      "promotionGate.minRecall: validation recall 0.8 < 0.85 (at the model's threshold 0.5)",
    );
    expect(reason).not.toContain('minSpecificity');
    // Digits enough to show the difference.
    expect(
      promotionRefusal({ minAuc: 0.9 }, version({ ...HEALTHY, auc: 0.899999, atThreshold: null })),
    ).toContain('AUC 0.899999 < 0.9');
  });

  it("reads accuracy, recall and specificity at the model's threshold", () => {
    const pooled = atThreshold(0.26, HEALTHY.confusion, { recall: 0.95, specificity: 0.4 });
    const calibrated = version({ ...HEALTHY, atThreshold: pooled }, 0.26);
    expect(promotionRefusal({ minRecall: 0.9 }, calibrated)).toBeNull();
    expect(promotionRefusal({ minSpecificity: 0.5 }, calibrated)).toMatch(
      /specificity 0\.4 < 0\.5 \(at the model's threshold 0\.26\)/,
    );
    // A Youden midpoint: no exact counts there, so a minimum at it cannot be checked.
    const midpoint = version({ ...HEALTHY, atThreshold: null }, 0.735);
    expect(promotionRefusal({ minAuc: 0.5 }, midpoint)).toBeNull();
    expect(promotionRefusal({ minAccuracy: 0.5 }, midpoint)).toMatch(
      /promotionGate\.minAccuracy: the validation accuracy at the model's threshold 0\.735 is not known/,
    );
  });

  it('refuses a gated model that no hospital evaluated', () => {
    expect(promotionRefusal({}, version(null))).toMatch(
      /^promotionGate: the final model has no validation summary \(no hospital evaluated it\)/,
    );
  });
});

describe.each(['pglite', 'postgres'] as const)(
  'promotion gate and guard on %s',
  (kind: DatabaseKind) => {
    const h = new AggregatorHarness();

    beforeAll(async () => {
      await useTestBackend();
    });

    afterEach(() => h.close());

    async function finishedRun(body: Record<string, unknown>): Promise<Detail> {
      const run = (await h.runToEnd({ rounds: 1, ...body })) as Detail;
      expect(run.status, run.failureReason ?? '').toBe('completed');
      return run;
    }

    const production = () => json<{ id: string }>(`${h.agg.url}/models/production`);

    async function completedAudit(runId: string) {
      const event = await h.db.prisma.auditEvent.findFirst({
        where: { action: 'run.completed', subjectId: runId },
      });
      return event?.details as Record<string, unknown>;
    }

    it('does not promote a final model that calls every image PNEUMONIA', async () => {
      await h.start(kind);
      const fakes = await h.addHospitals({
        'hospital-a': { evaluation: ALL_PNEUMONIA },
        'hospital-b': { evaluation: ALL_PNEUMONIA },
      });
      const holds = Object.values(fakes).map((f) => f.hold(1));
      const started = await h.postRun({ rounds: 1 });
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      const runId = started.body.id;
      const stream = await fetch(`${h.agg.url}/rounds/${runId}/events`, {
        signal: AbortSignal.timeout(60_000),
      });
      holds.forEach((release) => release());
      const text = await stream.text();
      const run = (await waitForRun(h.agg.url, runId)) as Detail;

      expect(run.status, run.failureReason ?? '').toBe('completed');
      expect(run.finalModelId).toBe(run.rounds[0].outputModelId);
      const reason = run.promotionRefusedReason as string;
      expect(reason).toMatch(
        /^the final model calls every validation image PNEUMONIA at its threshold 0\.5 \(n = 10: tp 6, fp 4, tn 0, fn 0\)/,
      );
      expect(reason).toContain(`POST /models/${run.finalModelId}/promote`);
      // No production model before, none now; the version is stored as always.
      expect((await production()).status).toBe(404);
      const model = await json<{ stage: string }>(`${h.agg.url}/models/${run.finalModelId}`);
      expect(model.body.stage).toBe('candidate');
      expect(await h.db.prisma.auditEvent.count({ where: { action: 'model.promoted' } })).toBe(0);

      expect(await completedAudit(runId)).toMatchObject({
        finalModelId: run.finalModelId,
        promoted: false,
        promotionRefused: reason,
      });
      const completed = text.split('\n\n').find((block) => block.includes('event: run-completed'));
      const data = JSON.parse(completed?.split('data: ')[1] ?? '{}') as Record<string, unknown>;
      expect(data).toMatchObject({ runId, promoted: false, promotionRefused: reason });
      const listed = await json<{ runs: { id: string; promotionRefusedReason: string | null }[] }>(
        `${h.agg.url}/rounds`,
      );
      expect(listed.body.runs.find((r) => r.id === runId)?.promotionRefusedReason).toBe(reason);

      // An admin can still promote it by hand.
      const promoted = await json<{ stage: string }>(
        `${h.agg.url}/models/${run.finalModelId}/promote`,
        { method: 'POST', token: ADMIN_TOKEN },
      );
      expect(promoted.status).toBe(200);
      expect((await production()).body.id).toBe(run.finalModelId);
    });

    it('promotes only a final model that meets the gate', async () => {
      await h.start(kind);
      const fakes = await h.addHospitals({ 'hospital-a': {}, 'hospital-b': {} });

      // Without a gate, a healthy model goes into production as before.
      const first = await finishedRun({});
      expect(first.promotionRefusedReason).toBeNull();
      expect((await production()).body.id).toBe(first.finalModelId);
      expect(await completedAudit(first.id)).toMatchObject({
        promoted: true,
        promotionRefused: null,
      });

      const refused = await finishedRun({ promotionGate: { minAuc: 0.99 } });
      expect(refused.settings.promotionGate).toEqual({ minAuc: 0.99 });
      expect(refused.promotionRefusedReason).toMatch(
        /^promotionGate\.minAuc: validation AUC 0\.9 < 0\.99\. Not promoted automatically/,
      );
      expect((await production()).body.id).toBe(first.finalModelId);
      expect(await completedAudit(refused.id)).toMatchObject({ promoted: false });

      const gate = { minAuc: 0.85, minAccuracy: 0.75, minRecall: 0.75, minSpecificity: 0.75 };
      const met = await finishedRun({ promotionGate: gate });
      expect(met.settings.promotionGate).toEqual(gate);
      expect(met.promotionRefusedReason).toBeNull();
      expect((await production()).body.id).toBe(met.finalModelId);

      // A gate and no evaluation at all: refused.
      for (const fake of Object.values(fakes)) fake.behaviour.evaluateStatus = 503;
      const unevaluated = await finishedRun({ promotionGate: {} });
      expect(unevaluated.promotionRefusedReason).toMatch(/no validation summary/);
      expect((await production()).body.id).toBe(met.finalModelId);
    });

    it('refuses invalid gates with 400 naming the field', async () => {
      await h.start(kind);
      for (const [promotionGate, field] of [
        [{ minAuc: 1.5 }, 'promotionGate/minAuc'],
        [{ minRecall: -0.1 }, 'promotionGate/minRecall'],
        [{ minAccuracy: 'high' }, 'promotionGate/minAccuracy'],
        [{ maxAuc: 0.5 }, 'promotionGate'],
        [0.9, 'promotionGate'],
      ] as const) {
        const res = await h.postRun({ promotionGate });
        expect(res.status, JSON.stringify(promotionGate)).toBe(400);
        expect(res.body.error.message, JSON.stringify(promotionGate)).toContain(field);
      }
      expect((await json<{ runs: unknown[] }>(`${h.agg.url}/rounds`)).body.runs).toEqual([]);
    });
  },
);
