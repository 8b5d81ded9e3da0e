import { describe, expect, it } from 'vitest';
import type { Arm } from '../../bench/robust/arms.ts';
import type { ArmResult } from '../../bench/robust/result.ts';
import { formatSeedSpreads, seedSpreads, spreadOf } from '../../bench/robust/seed-spread.ts';

function result(arm: Arm, auc: number, logLoss: number, meanAuc: number): ArmResult {
  const evaluation = {
    auc,
    logLoss,
    brier: 0.05,
    ece: 0.03,
    accuracy: 0.9,
    recall: 0.9,
    specificity: 0.95,
    corruption: { meanAuc, meanSpecificity: 0.85 },
  };
  // Only the fields the spread reads; the rest of a result file does not matter here.
  return { arm, evaluation } as unknown as ArmResult;
}

const training = (id: string, seed: number, size = 64, options: string[] = []): Arm => ({
  kind: 'training',
  id,
  description: id,
  stage: 'screen',
  size,
  seed,
  options,
});

describe('spread over training seeds (bench/robust/seed-spread.ts)', () => {
  it('computes the mean, the sample standard deviation and the range', () => {
    const s = spreadOf([1, 2, 3, 4]);
    expect(s.mean).toBe(2.5);
    expect(s.sd).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect([s.min, s.max]).toEqual([1, 4]);
    expect(spreadOf([7]).sd).toBe(0);
  });

  it('groups arms by size and options, needs two seeds, and leaves ensembles out', () => {
    const spreads = seedSpreads([
      result(training('light-64-s42', 42), 0.99, 0.18, 0.97),
      result(training('light-64-s43', 43), 0.97, 0.22, 0.95),
      result(training('light-128-s42', 42, 128), 0.98, 0.2, 0.96),
      result(training('strong-64-s42', 42, 64, ['--augment', 'strong']), 0.98, 0.2, 0.96),
      result(
        {
          kind: 'ensemble',
          id: 'ens',
          description: 'ens',
          stage: 'ensemble',
          members: ['light-64-s42', 'light-64-s43'],
        },
        0.995,
        0.15,
        0.98,
      ),
    ]);
    expect(spreads.map((s) => s.recipe)).toEqual(['64 px']);
    expect(spreads[0]?.seeds).toEqual([42, 43]);
    expect(spreads[0]?.measures.auc.mean).toBeCloseTo(0.98, 12);
    expect(spreads[0]?.measures.logLoss.sd).toBeCloseTo(Math.sqrt(0.0008), 12);
    expect(spreads[0]?.measures.meanAuc.min).toBe(0.95);
    expect(formatSeedSpreads(spreads)).toContain('| auc | 0.9800 ± 0.0141 (0.9700–0.9900) |');
  });

  it('says so when no recipe has two seeds', () => {
    expect(formatSeedSpreads(seedSpreads([result(training('a', 42), 0.9, 0.3, 0.9)]))).toMatch(
      /No recipe/,
    );
  });
});
