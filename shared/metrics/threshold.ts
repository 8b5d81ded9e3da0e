import { checkBinaryInputs } from './input.ts';
import { type RankedScores, rankScores } from './ranked.ts';

/**
 * How the decision threshold (predicted PNEUMONIA iff probability >= threshold) is chosen,
 * normally on a validation split and then frozen for the test split:
 *
 * - `fixed`: the given value, no data used.
 * - `youden`: maximises Youden's J = sensitivity + specificity - 1. Every threshold between
 *   two neighbouring distinct scores gives the same J, so each interval (lower, upper] is
 *   represented by 0.5 if it lies inside, else by `upper` when 0.5 is above it, else by the
 *   midpoint (rather than a point just above `lower`, which would overfit that one
 *   validation score). Ties in J go to the representative closest to 0.5.
 * - `min-recall`: the highest threshold whose recall (sensitivity) is >= `recall` — for
 *   screening, where a missed pneumonia costs more than a false alarm.
 * - `youden-shrunk`: 0.5 + weight * (youden - 0.5), clamped to [0.05, 0.95]. On an easy
 *   validation split the Youden threshold can land anywhere in a wide gap between classes
 *   (or at an extreme), which does not transfer to harder test data; shrinking towards 0.5
 *   (weight in [0, 1]: 0 = always 0.5, 1 = plain Youden) keeps the threshold moderate.
 *
 * When the data lacks the class a rule needs (youden: either class; min-recall: positives),
 * the rule falls back to 0.5 and says so in the description.
 */
export type ThresholdRule =
  | { kind: 'fixed'; value: number }
  | { kind: 'youden' }
  | { kind: 'min-recall'; recall: number }
  | { kind: 'youden-shrunk'; weight: number };

export interface ThresholdChoice {
  threshold: number;
  /** Compact rule name with its parameter, e.g. 'min-recall:0.95' (parseThresholdRule reads it back). */
  rule: string;
  description: string;
}

const FALLBACK = 0.5;
const SHRUNK_RANGE: [number, number] = [0.05, 0.95];
const J_TOLERANCE = 1e-12;

export function chooseThreshold(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  rule: ThresholdRule,
): ThresholdChoice {
  checkBinaryInputs(labels, probabilities);
  const name = formatThresholdRule(rule);
  switch (rule.kind) {
    case 'fixed':
      requireFinite(rule.value, 'fixed threshold');
      return {
        threshold: rule.value,
        rule: name,
        description: `fixed threshold ${fmt(rule.value)}`,
      };
    case 'youden': {
      const best = youden(rankScores(labels, probabilities));
      return { threshold: best.threshold, rule: name, description: best.description };
    }
    case 'youden-shrunk': {
      requireFinite(rule.weight, 'youden-shrunk weight');
      const best = youden(rankScores(labels, probabilities));
      const shrunk = 0.5 + rule.weight * (best.threshold - 0.5);
      const threshold = Math.min(SHRUNK_RANGE[1], Math.max(SHRUNK_RANGE[0], shrunk));
      return {
        threshold,
        rule: name,
        description: `0.5 + ${fmt(rule.weight)} * (youden - 0.5) clamped to [${SHRUNK_RANGE.join(', ')}] = ${fmt(threshold)}; ${best.description}`,
      };
    }
    case 'min-recall': {
      if (!(rule.recall > 0 && rule.recall <= 1)) {
        throw new RangeError(`min-recall target must be in (0, 1], got ${rule.recall}`);
      }
      const found = minRecall(rankScores(labels, probabilities), rule.recall);
      return { threshold: found.threshold, rule: name, description: found.description };
    }
  }
}

interface Found {
  threshold: number;
  description: string;
}

function classTotals(ranked: RankedScores): { positives: number; negatives: number } {
  let positives = 0;
  for (let r = 0; r < ranked.positive.length; r++) positives += ranked.positive[r];
  return { positives, negatives: ranked.positive.length - positives };
}

function youden(ranked: RankedScores): Found {
  const { positives, negatives } = classTotals(ranked);
  if (positives === 0 || negatives === 0) {
    return {
      threshold: FALLBACK,
      description: `Youden undefined (a class is absent); using ${FALLBACK}`,
    };
  }
  const { scores, positive, groupEnd } = ranked;
  const groups = groupEnd.length;
  // Start from "everything negative" (J = 0), representable only if 0.5 is above every score.
  let best = { j: 0, threshold: NaN, sensitivity: 0, specificity: 1 };
  if (scores[scores.length - 1] < FALLBACK) best.threshold = FALLBACK;

  let tp = 0;
  let fp = 0;
  for (let g = groups - 1; g >= 0; g--) {
    const start = g > 0 ? groupEnd[g - 1] : 0;
    for (let r = start; r < groupEnd[g]; r++) {
      if (positive[r]) tp++;
      else fp++;
    }
    // Thresholds in (score of group g-1, score of group g] all predict ranks >= start positive.
    const upper = scores[start];
    const below = g > 0 ? scores[start - 1] : -Infinity;
    const threshold = FALLBACK > upper ? upper : FALLBACK > below ? FALLBACK : (below + upper) / 2;
    const sensitivity = tp / positives;
    const specificity = 1 - fp / negatives;
    const j = sensitivity + specificity - 1;
    const better =
      Number.isNaN(best.threshold) ||
      j > best.j + J_TOLERANCE ||
      (j >= best.j - J_TOLERANCE &&
        Math.abs(threshold - FALLBACK) < Math.abs(best.threshold - FALLBACK));
    if (better) best = { j, threshold, sensitivity, specificity };
  }
  return {
    threshold: best.threshold,
    description: `Youden J = ${fmt(best.j)} (sensitivity ${fmt(best.sensitivity)}, specificity ${fmt(best.specificity)}) at ${fmt(best.threshold)} on ${scores.length} samples`,
  };
}

function minRecall(ranked: RankedScores, target: number): Found {
  const { positives, negatives } = classTotals(ranked);
  if (positives === 0) {
    return {
      threshold: FALLBACK,
      description: `min-recall undefined (no positives); using ${FALLBACK}`,
    };
  }
  // The k-th highest positive score is the highest threshold admitting k positives.
  const needed = Math.max(1, Math.ceil(target * positives - 1e-9));
  const { scores, positive } = ranked;
  let seen = 0;
  let rank = scores.length - 1;
  for (; rank >= 0; rank--) {
    if (positive[rank] && ++seen === needed) break;
  }
  const threshold = scores[rank];
  let tp = 0;
  let fp = 0;
  for (let r = scores.length - 1; r >= 0 && scores[r] >= threshold; r--) {
    if (positive[r]) tp++;
    else fp++;
  }
  const specificity = negatives > 0 ? fmt(1 - fp / negatives) : 'undefined';
  return {
    threshold,
    description: `highest threshold with recall >= ${fmt(target)}: ${fmt(threshold)} (recall ${fmt(tp / positives)}, specificity ${specificity}) on ${scores.length} samples`,
  };
}

/** 'fixed:0.5' | 'youden' | 'min-recall:0.95' | 'youden-shrunk:0.5'. */
export function formatThresholdRule(rule: ThresholdRule): string {
  switch (rule.kind) {
    case 'fixed':
      return `fixed:${rule.value}`;
    case 'youden':
      return 'youden';
    case 'min-recall':
      return `min-recall:${rule.recall}`;
    case 'youden-shrunk':
      return `youden-shrunk:${rule.weight}`;
  }
}

/** Parses the formatThresholdRule form (for CLI flags); a bare number means 'fixed'. */
export function parseThresholdRule(text: string): ThresholdRule {
  const [kind, arg, ...rest] = text.trim().split(':');
  const value = arg === undefined ? NaN : Number(arg);
  if (rest.length === 0) {
    if (kind === 'youden' && arg === undefined) return { kind: 'youden' };
    if (kind === 'fixed' && Number.isFinite(value)) return { kind: 'fixed', value };
    if (kind === 'min-recall' && value > 0 && value <= 1)
      return { kind: 'min-recall', recall: value };
    if (kind === 'youden-shrunk' && Number.isFinite(value))
      return { kind: 'youden-shrunk', weight: value };
    if (arg === undefined && kind !== '' && Number.isFinite(Number(kind))) {
      return { kind: 'fixed', value: Number(kind) };
    }
  }
  throw new RangeError(
    `bad threshold rule '${text}'; expected fixed:<t>, youden, min-recall:<r in (0,1]>, youden-shrunk:<w> or a number`,
  );
}

function requireFinite(value: number, what: string): void {
  if (!Number.isFinite(value)) throw new RangeError(`${what} must be finite, got ${value}`);
}

function fmt(x: number): string {
  return Number(x.toFixed(4)).toString();
}
