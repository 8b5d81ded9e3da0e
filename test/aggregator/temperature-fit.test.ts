// A round's temperature fitted on the hospitals' pooled NLL curves: malformed curves are left
// out with the reason, and a run against fake nodes stores the fit with the model version.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HospitalAnswer } from '../../services/aggregator/lib/calibration.ts';
import { fitRoundTemperature } from '../../services/aggregator/lib/temperature-fit.ts';
import {
  calibrateTemperature,
  mergeTemperatureCurves,
  temperatureCurve,
  type TemperatureCurve,
} from '../../shared/metrics/index.ts';
import { createRng } from '../../shared/util/random.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { DEFAULT_EVALUATION } from './fake-hospital.ts';
import { AggregatorHarness } from './harness.ts';
import { json, waitForRun } from './helpers.ts';

/** An overconfident model's held-out split: logits 2.5 times too large. */
function split(n: number, seed: number): TemperatureCurve {
  const rng = createRng(seed);
  const labels: number[] = [];
  const probabilities: number[] = [];
  for (let i = 0; i < n; i++) {
    const z = 1.5 * rng.normal();
    labels.push(rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0);
    probabilities.push(1 / (1 + Math.exp(-2.5 * z)));
  }
  return temperatureCurve(labels, probabilities);
}

const A = split(400, 1);
const B = split(300, 2);

const answer = (name: string, n: number, temperature?: object): HospitalAnswer => ({
  hospitalId: `id-${name}`,
  hospitalName: name,
  // Malformed curves are the point: the aggregator reads what a node sends.
  evaluation: {
    ...DEFAULT_EVALUATION,
    n,
    ...(temperature ? { temperature: temperature as TemperatureCurve } : {}),
  },
});

describe('fitRoundTemperature', () => {
  it('fits on the sum of the usable curves and says why it left the others out', () => {
    const fit = fitRoundTemperature([
      answer('a', 400, A),
      answer('b', 300, B),
      answer('old', 10),
      { hospitalId: 'id-down', hospitalName: 'down' },
      answer('n', 99, A),
      answer('short', 400, { ...A, nll: A.nll.slice(0, 80) }),
      answer('negative', 400, { ...A, nll: A.nll.map((x, i) => (i === 3 ? -1 : x)) }),
      answer('bins', 400, { ...A, bins: 5 }),
      answer('positives', 400, { ...A, positives: A.count.map((row) => row.map((c) => c + 1)) }),
    ]);
    const expected = calibrateTemperature(mergeTemperatureCurves([A, B]), { hospitals: 2 });
    expect(fit).not.toBeNull();
    expect(fit?.temperature).toBe(expected?.temperature);
    expect(fit?.temperature).toBeGreaterThan(2);
    expect(fit?.basis).toMatchObject({ hospitals: 2, images: 700 });
    expect(fit?.basis.excluded).toEqual([
      {
        hospitalId: 'id-old',
        hospital: 'old',
        reason: 'its answer has no temperature curve (a node older than calibration)',
      },
      { hospitalId: 'id-down', hospital: 'down', reason: 'its evaluation failed' },
      {
        hospitalId: 'id-n',
        hospital: 'n',
        reason: 'its reliability counts 400 images at T = 0.25, its answer n = 99',
      },
      {
        hospitalId: 'id-short',
        hospital: 'short',
        reason: 'it has 80 NLL sums for 81 temperatures',
      },
      {
        hospitalId: 'id-negative',
        hospital: 'negative',
        reason: 'its NLL sums are not all finite and non-negative',
      },
      { hospitalId: 'id-bins', hospital: 'bins', reason: 'its reliability has 5 bins, not 10' },
      {
        hospitalId: 'id-positives',
        hospital: 'positives',
        reason: 'its reliability bins do not add up (more positives or probability than images)',
      },
    ]);
    expect(fit?.nllAfter).toBeLessThan(fit?.nllBefore ?? 0);
  });

  it('fits nothing when no hospital answered a usable curve', () => {
    expect(fitRoundTemperature([answer('old', 10), answer('n', 5, A)])).toBeNull();
  });
});

describe('the temperature on fake nodes', () => {
  const h = new AggregatorHarness();

  beforeAll(async () => {
    await useTestBackend();
  });

  afterEach(() => h.close());

  it("stores the fit in the model's metadata and the round, no hospital's own curve", async () => {
    await h.start('pglite');
    await h.addHospitals({
      'hospital-a': { evaluation: { n: 400, temperature: A } },
      'hospital-b': { evaluation: { n: 300, temperature: B } },
      'hospital-old': {},
    });
    const started = await h.postRun({ rounds: 1 });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const run = await waitForRun(h.agg.url, started.body.id);
    expect(run.status, run.failureReason ?? '').toBe('completed');
    const model = await json<{ metadata: { calibration?: Record<string, unknown> } }>(
      `${h.agg.url}/models/${run.finalModelId}`,
    );
    const expected = JSON.parse(
      JSON.stringify(fitRoundTemperature([answer('a', 400, A), answer('b', 300, B)])),
    ) as Record<string, unknown>;
    const { calibration } = model.body.metadata;
    expect(calibration).toMatchObject({
      method: 'temperature',
      temperature: expected.temperature,
      eceBefore: expected.eceBefore,
      eceAfter: expected.eceAfter,
      reliabilityAfter: expected.reliabilityAfter,
      basis: {
        hospitals: 2,
        images: 700,
        excluded: [expect.objectContaining({ hospital: 'hospital-old' })],
      },
    });
    expect(run.rounds[0].metrics).toMatchObject({ calibration });
    // The hospitals' own sums are not shown.
    expect(JSON.stringify(run)).not.toContain('probabilitySum');

    // The reliability diagram of the version, and none for the run's initial model.
    const svg = await fetch(`${h.agg.url}/models/${run.finalModelId}/reliability.svg`);
    expect(svg.status).toBe(200);
    expect(svg.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    const text = await svg.text();
    expect(text).toContain('Perfect calibration');
    expect(text).toContain(`ECE ${(expected.eceAfter as number).toFixed(3)}`);
    const initial = run.rounds[0].inputModelId;
    const none = await json<{ error: { code: string } }>(
      `${h.agg.url}/models/${initial}/reliability.svg`,
    );
    expect([none.status, none.body.error.code]).toEqual([404, 'no-calibration']);
  });
});
