// The production threshold chosen by the run's rule on the hospitals' pooled score histograms:
// the pure calibration, and runs against fake nodes (PGlite only: nothing engine-specific).
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  calibrateThreshold,
  pooledMetrics,
  type HospitalAnswer,
} from '../../services/aggregator/lib/calibration.ts';
import type { Evaluation } from '../../services/aggregator/schemas/hospital-node.ts';
import {
  mergeScoreHistograms,
  parseThresholdRule,
  scoreHistogram,
  thresholdFromHistogram,
  type ScoreHistogram,
} from '../../shared/metrics/index.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { DEFAULT_EVALUATION, type FakeBehaviour } from './fake-hospital.ts';
import { AggregatorHarness } from './harness.ts';
import { json, waitForRun } from './helpers.ts';

/** A validation split's histogram: `scores` of positives and negatives, 100 bins. */
function histogram(positives: number[], negatives: number[]): ScoreHistogram {
  const labels = [...positives.map(() => 1), ...negatives.map(() => 0)];
  return scoreHistogram(labels, [...positives, ...negatives], 100);
}

type NodeAnswer = Pick<Evaluation, 'n' | 'confusion'> & Partial<Evaluation>;

/** What a node answers with its histogram: n and confusion (at 0.5) consistent with it. */
function answerWith(h: ScoreHistogram): NodeAnswer {
  const at = pooledMetrics(h, 0.5, 1);
  if (!at) throw new Error('0.5 is a bin edge');
  return { n: at.n, confusion: at.confusion, histogram: h };
}

const SPLIT_A = histogram([0.95, 0.9, 0.81, 0.62, 0.44, 0.3, 0.12], [0.05, 0.1, 0.22, 0.35, 0.52]);
const SPLIT_B = histogram([0.99, 0.87, 0.71, 0.55, 0.38, 0.26], [0.02, 0.15, 0.28, 0.41, 0.6]);

describe('calibrateThreshold', () => {
  const answer = (name: string, evaluation?: NodeAnswer): HospitalAnswer => ({
    hospitalId: `id-${name}`,
    hospitalName: name,
    evaluation: evaluation && { ...DEFAULT_EVALUATION, ...evaluation },
  });

  it('applies the rule to the merged histograms of the hospitals that sent one', () => {
    const rule = parseThresholdRule('min-recall:0.9');
    const expected = thresholdFromHistogram(mergeScoreHistograms([SPLIT_A, SPLIT_B]), rule);
    const { threshold, pooled, hospitals } = calibrateThreshold('min-recall:0.9', [
      answer('a', answerWith(SPLIT_A)),
      answer('b', answerWith(SPLIT_B)),
      answer('old', { n: 10, confusion: { tp: 4, fp: 1, tn: 4, fn: 1 } }),
      answer('down'),
    ]);
    expect(hospitals).toBe(2);
    expect(pooled).toEqual(mergeScoreHistograms([SPLIT_A, SPLIT_B]));
    expect(threshold).toMatchObject({ threshold: expected.threshold, rule: 'min-recall:0.9' });
    expect(threshold.description).toContain(expected.description);
    expect(threshold.basis).toEqual({
      hospitals: 2,
      images: 23,
      positives: 13,
      negatives: 10,
      bins: 100,
      excluded: [
        {
          hospitalId: 'id-old',
          hospital: 'old',
          reason: expect.stringMatching(/no score histogram/),
        },
        { hospitalId: 'id-down', hospital: 'down', reason: 'its evaluation failed' },
      ],
    });
  });

  it('leaves out histograms that do not add up', () => {
    const wrongBins = scoreHistogram([1, 0], [0.9, 0.1], 50);
    const { threshold } = calibrateThreshold('youden', [
      answer('a', answerWith(SPLIT_A)),
      answer('bins', { n: 2, confusion: { tp: 1, fp: 0, tn: 1, fn: 0 }, histogram: wrongBins }),
      answer('n', { ...answerWith(SPLIT_B), n: 99 }),
    ]);
    expect(threshold.basis?.hospitals).toBe(1);
    expect(threshold.basis?.excluded.map((e) => e.reason)).toEqual([
      'its histogram has 50 bins, not 100',
      'its histogram counts 11 images, its answer n = 99',
    ]);
  });

  it('falls back to 0.5, saying why, without histograms; fixed rules need none', () => {
    const none = calibrateThreshold('youden', [
      answer('old', { n: 10, confusion: { tp: 4, fp: 1, tn: 4, fn: 1 } }),
    ]);
    expect(none.threshold).toMatchObject({ threshold: 0.5, rule: 'youden' });
    expect(none.threshold.description).toMatch(/none came back; using 0.5/);
    const noPositives = calibrateThreshold('min-recall:0.9', [
      answer('a', answerWith(histogram([], [0.1, 0.7]))),
    ]);
    expect(noPositives.threshold.threshold).toBe(0.5);
    expect(noPositives.threshold.description).toMatch(/no positives/);
    const fixed = calibrateThreshold('fixed:0.4', [answer('a', answerWith(SPLIT_A))]);
    expect(fixed.threshold).toEqual({
      threshold: 0.4,
      rule: 'fixed:0.4',
      description: expect.stringContaining('no data used'),
    });
  });

  it('gives the pooled confusion counts exactly at bin edges only', () => {
    const pooled = mergeScoreHistograms([SPLIT_A, SPLIT_B]);
    expect(pooledMetrics(pooled, 0.3, 2)).toMatchObject({
      threshold: 0.3,
      n: 23,
      hospitals: 2,
      confusion: { tp: 11, fn: 2, fp: 4, tn: 6 },
      recall: 11 / 13,
      specificity: 0.6,
    });
    expect(pooledMetrics(pooled, 0, 2)?.confusion).toEqual({ tp: 13, fn: 0, fp: 10, tn: 0 });
    expect(pooledMetrics(pooled, 0.305, 2)).toBeNull();
    expect(pooledMetrics(pooled, 1, 2)).toBeNull();
  });
});

describe('the run threshold on fake nodes', () => {
  const h = new AggregatorHarness();

  beforeAll(async () => {
    await useTestBackend();
  });

  afterEach(() => h.close());

  async function setUp(specs: Record<string, FakeBehaviour>): Promise<void> {
    await h.start('pglite');
    await h.addHospitals(specs);
  }

  const postRun = (body: Record<string, unknown>) => h.postRun({ rounds: 1, ...body });

  /** Runs one round to completion; the production model and the round's metrics. */
  async function runOneRound(body: Record<string, unknown>) {
    const started = await postRun(body);
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const run = await waitForRun(h.agg.url, started.body.id);
    expect(run.status, run.failureReason ?? '').toBe('completed');
    const production = await json<{ id: string; metadata: { threshold: Record<string, unknown> } }>(
      `${h.agg.url}/models/production`,
    );
    expect(production.body.id).toBe(run.finalModelId);
    return { run, threshold: production.body.metadata.threshold, round: run.rounds[0] };
  }

  it('stores the threshold chosen on the pooled histograms with the model version', async () => {
    await setUp({
      'hospital-a': { evaluation: answerWith(SPLIT_A) },
      'hospital-b': { evaluation: answerWith(SPLIT_B) },
      'hospital-old': {},
    });
    const { run, threshold, round } = await runOneRound({ thresholdRule: 'min-recall:0.9' });
    expect(run.settings.thresholdRule).toBe('min-recall:0.9');
    const expected = thresholdFromHistogram(
      mergeScoreHistograms([SPLIT_A, SPLIT_B]),
      parseThresholdRule('min-recall:0.9'),
    );
    expect(threshold).toMatchObject({
      threshold: expected.threshold,
      rule: 'min-recall:0.9',
      basis: {
        hospitals: 2,
        images: 23,
        positives: 13,
        negatives: 10,
        bins: 100,
        excluded: [expect.objectContaining({ hospital: 'hospital-old' })],
      },
    });
    expect(threshold.description).toContain(expected.description);
    // The same record on GET /models/{id}, and the metrics at it in the round's summary.
    const model = await json<{ metadata: { threshold: unknown } }>(
      `${h.agg.url}/models/${run.finalModelId}`,
    );
    expect(model.body.metadata.threshold).toEqual(threshold);
    expect(round.metrics).toMatchObject({
      threshold,
      validation: {
        atThreshold: {
          threshold: expected.threshold,
          n: 23,
          hospitals: 2,
          recall: expect.any(Number),
        },
      },
    });
    const atThreshold = (round.metrics?.validation as { atThreshold: { recall: number } })
      .atThreshold;
    expect(atThreshold.recall).toBeGreaterThanOrEqual(0.9);
    // No hospital's own histogram is shown.
    expect(JSON.stringify(run)).not.toContain('"histogram"');
  });

  it('falls back to 0.5, saying so, when no node answers a histogram', async () => {
    await setUp({ 'hospital-old': {} });
    const { threshold } = await runOneRound({ thresholdRule: 'youden' });
    expect(threshold).toMatchObject({
      threshold: 0.5,
      rule: 'youden',
      description: expect.stringMatching(/none came back; using 0.5/),
      basis: { hospitals: 0, images: 0, excluded: [expect.anything()] },
    });
  });

  it('keeps the fixed 0.5 by default, even with histograms', async () => {
    await setUp({ 'hospital-a': { evaluation: answerWith(SPLIT_A) } });
    const { run, threshold, round } = await runOneRound({});
    expect(run.settings.thresholdRule).toBe('fixed:0.5');
    expect(threshold).toEqual({
      threshold: 0.5,
      rule: 'fixed:0.5',
      description: expect.stringContaining('no data used'),
    });
    expect(round.metrics).toMatchObject({
      validation: { atThreshold: { threshold: 0.5, n: 12, confusion: { tp: 4, fn: 3 } } },
    });
  });

  it('refuses a bad threshold rule with 400, naming the field', async () => {
    await setUp({});
    for (const rule of ['median', 'min-recall:1.5', 'fixed:2', 'youden:3', '']) {
      const res = await postRun({ thresholdRule: rule });
      expect(res.status, rule).toBe(400);
      expect(res.body.error.message, rule).toContain('thresholdRule');
    }
    expect((await json<{ runs: unknown[] }>(`${h.agg.url}/rounds`)).body.runs).toEqual([]);
    // A bare number is a fixed rule, stored in its canonical form.
    const res = await postRun({ thresholdRule: '0.4', rounds: 1 });
    expect(res.status).toBe(202);
    const run = await waitForRun(h.agg.url, res.body.id);
    expect(run.settings.thresholdRule).toBe('fixed:0.4');
  });
});
