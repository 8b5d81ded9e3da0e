/**
 * Spread over training seeds: the training arms that share a recipe (input size and options)
 * and differ only in seed, summarised as mean, sample standard deviation and range of each
 * measure. The bootstrap intervals of one arm cover the validation images' sampling; this
 * covers the run-to-run variation of the recipe itself, which a single seed hides.
 */
import type { ArmResult } from './result.ts';

export const SPREAD_MEASURES = [
  'auc',
  'logLoss',
  'brier',
  'ece',
  'accuracy',
  'recall',
  'specificity',
  'meanAuc',
  'meanSpecificity',
] as const;
export type SpreadMeasure = (typeof SPREAD_MEASURES)[number];

export interface Spread {
  mean: number;
  /** Sample standard deviation (n - 1). */
  sd: number;
  min: number;
  max: number;
}

export interface RecipeSpread {
  /** `<size> px` plus the recipe's extra options, e.g. "64 px" or "64 px --augment strong". */
  recipe: string;
  arms: string[];
  seeds: number[];
  measures: Record<SpreadMeasure, Spread>;
}

export function spreadOf(values: readonly number[]): Spread {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const variance = n > 1 ? values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, sd: Math.sqrt(variance), min: Math.min(...values), max: Math.max(...values) };
}

function measureOf(r: ArmResult, name: SpreadMeasure): number {
  const e = r.evaluation;
  if (name === 'meanAuc') return e.corruption?.meanAuc ?? NaN;
  if (name === 'meanSpecificity') return e.corruption?.meanSpecificity ?? NaN;
  return e[name];
}

/** One entry per recipe with at least two seeds among the results, in first-seen order. */
export function seedSpreads(results: readonly ArmResult[]): RecipeSpread[] {
  const byRecipe = new Map<string, ArmResult[]>();
  for (const r of results) {
    if (r.arm.kind !== 'training') continue;
    const recipe = [`${r.arm.size} px`, ...r.arm.options].join(' ');
    byRecipe.set(recipe, [...(byRecipe.get(recipe) ?? []), r]);
  }
  return [...byRecipe]
    .filter(
      ([, arms]) => new Set(arms.map((a) => (a.arm.kind === 'training' ? a.arm.seed : 0))).size > 1,
    )
    .map(([recipe, arms]) => ({
      recipe,
      arms: arms.map((a) => a.arm.id),
      seeds: arms.map((a) => (a.arm.kind === 'training' ? a.arm.seed : NaN)),
      measures: Object.fromEntries(
        SPREAD_MEASURES.map((m) => [m, spreadOf(arms.map((a) => measureOf(a, m)))]),
      ) as Record<SpreadMeasure, Spread>,
    }));
}

const f = (x: number, d = 4) => (Number.isFinite(x) ? x.toFixed(d) : '–');

/** One row per measure, one column per recipe: mean ± sd (min–max) over its seeds. */
export function formatSeedSpreads(spreads: readonly RecipeSpread[]): string {
  if (spreads.length === 0) return 'No recipe has run with more than one seed yet.';
  const cell = (s: Spread) => `${f(s.mean)} ± ${f(s.sd)} (${f(s.min)}–${f(s.max)})`;
  return [
    `| measure | ${spreads.map((s) => `${s.recipe}, seeds ${s.seeds.join(', ')}`).join(' | ')} |`,
    `|---|${spreads.map(() => '---').join('|')}|`,
    ...SPREAD_MEASURES.map(
      (m) => `| ${m} | ${spreads.map((s) => cell(s.measures[m])).join(' | ')} |`,
    ),
  ].join('\n');
}
