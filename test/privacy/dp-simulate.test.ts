// `fedxray simulate --dp-*`: epsilon printed after every round, the stop on the budget, and the
// guarantee recorded in model.json (toy scale on the shipped sample).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fedxrayWith } from '../helpers/fedxray-process.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_DATA_DIR } from '../../shared/data/index.ts';
import { epsilonAfterRounds } from '../../shared/privacy/dp-budget.ts';

// Not quiet: the test reads the per-round lines.
const fedxray = fedxrayWith({ FEDXRAY_QUIET: '0' });

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'fedxray-dp-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('fedxray simulate with differential privacy', () => {
  it('prints epsilon per round, stops before the budget is exceeded and records the guarantee', async () => {
    const out = join(work, 'dp');
    const base = ['simulate', '--data', SAMPLE_DATA_DIR, '--out', out, '--clients', '2'];
    const toy = ['--size', '32', '--width', '8', '--batch', '8', '--limit', '16', '--workers', '1'];
    // z = 2, q = 1: epsilon 2.17, 3.19, 4.01 after rounds 1, 2, 3; a budget of 3.5 allows two.
    const sim = await fedxray(
      ...base,
      '--rounds',
      '4',
      ...toy,
      '--dp-clip',
      '0.1',
      '--dp-noise',
      '2',
      '--dp-target-epsilon',
      '3.5',
      '--dp-adaptive-quantile',
      '0.5',
    );
    expect(sim.code, sim.stderr).toBe(0);
    const budget = { sampleRate: 1, noiseMultiplier: 2, delta: 1e-5 };
    for (const round of [1, 2])
      expect(sim.stderr).toContain(
        `epsilon ${epsilonAfterRounds(budget, round).toFixed(4)} at delta 0.00001`,
      );
    expect(sim.stderr).toMatch(/privacy budget: round 3 would bring epsilon to 4\.0\d+ > 3\.5/);
    // Adaptive clipping: the next round's clip norm on each round line.
    expect(sim.stderr).toMatch(/at delta 0\.00001, next clip \d/);
    const model = JSON.parse(await readFile(join(out, 'model.json'), 'utf8')) as {
      training: { roundsDetail: unknown[]; privacy: Record<string, unknown> };
    };
    expect(model.training.roundsDetail).toHaveLength(2);
    expect(model.training.privacy).toMatchObject({ rounds: 2, clipNorm: 0.1, noiseMultiplier: 2 });
    expect(model.training.privacy.epsilon).toBeCloseTo(epsilonAfterRounds(budget, 2), 10);
    expect(String(model.training.privacy.guarantee)).toMatch(/hospital level/);
    expect(model.training.privacy.adaptiveClipping).toMatchObject({
      targetQuantile: 0.5,
      countNoise: 2,
    });

    const robust = await fedxray(
      ...base,
      '--strategy',
      'fedmedian',
      '--dp-clip',
      '1',
      '--dp-noise',
      '1',
    );
    expect(robust.code).toBe(2);
    expect(robust.stderr).toMatch(/fedavg or fedavgm/);
    const half = await fedxray(...base, '--dp-noise', '1');
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/need --dp-clip and --dp-noise/);
    const weakCount = await fedxray(
      ...base,
      ...[
        '--dp-clip',
        '1',
        '--dp-noise',
        '2',
        '--dp-adaptive-quantile',
        '0.5',
        '--dp-count-noise',
        '0.5',
      ],
    );
    expect(weakCount.code).toBe(2);
    expect(weakCount.stderr).toMatch(/sigma_b > z \/ 2/);
  });
});
