import {
  confusionAtThreshold,
  formatThresholdRule,
  histogramTotals,
  mergeScoreHistograms,
  parseThresholdRule,
  thresholdFromHistogram,
  type ScoreHistogram,
  type ThresholdRule,
} from '../../../shared/metrics/index.ts';
import { HISTOGRAM_BINS } from '../../../shared/protocol/evaluation.ts';
import type { Evaluation } from '../schemas/hospital-node.ts';

const FALLBACK = 0.5;
/**
 * thresholdFromHistogram expands a histogram to one entry per image, so a node claiming an
 * absurd split size could exhaust the aggregator's memory; real validation splits are far smaller.
 */
const MAX_IMAGES_PER_HOSPITAL = 1_000_000;

/** What a data-driven threshold was chosen on: the pooled validation splits. */
export interface CalibrationBasis {
  /** Hospitals whose histograms were pooled. */
  hospitals: number;
  images: number;
  positives: number;
  negatives: number;
  bins: number;
  /** Hospitals of the round left out of the pool, and why. */
  excluded: { hospitalId: string; hospital: string; reason: string }[];
}

/** A model version's decision threshold (metadata.threshold; the inference-api applies it). */
export interface ModelThreshold {
  threshold: number;
  rule: string;
  description: string;
  /** Absent for fixed rules and for models that were not evaluated. */
  basis?: CalibrationBasis;
}

export interface HospitalAnswer {
  hospitalId: string;
  hospitalName: string;
  evaluation?: Evaluation;
}

export interface Calibration {
  threshold: ModelThreshold;
  /** The usable histograms summed; null when no hospital answered one. */
  pooled: ScoreHistogram | null;
  /** How many hospitals `pooled` sums. */
  hospitals: number;
}

export function fixedThreshold(value: number): ModelThreshold {
  return {
    threshold: value,
    rule: formatThresholdRule({ kind: 'fixed', value }),
    description: `fixed threshold ${value}: PNEUMONIA when P(PNEUMONIA) >= ${value}; no data used`,
  };
}

/** The threshold of a run's initial model, which no hospital evaluates. */
export function initialThreshold(ruleText: string): ModelThreshold {
  const rule = parseThresholdRule(ruleText);
  if (rule.kind === 'fixed') return fixedThreshold(rule.value);
  return {
    threshold: FALLBACK,
    rule: formatThresholdRule(rule),
    description: `the initial model is not evaluated, so ${formatThresholdRule(rule)} has no data; using ${FALLBACK}`,
  };
}

/**
 * Chooses a round's threshold with the run's rule on the pooled score histograms of the
 * hospitals that evaluated the round's model. A histogram that does not add up (other bin
 * count, counts not matching the answer's n) is left out, like a missing one.
 */
export function calibrateThreshold(
  ruleText: string,
  answers: readonly HospitalAnswer[],
): Calibration {
  const rule = parseThresholdRule(ruleText);
  const usable: ScoreHistogram[] = [];
  const excluded: CalibrationBasis['excluded'] = [];
  for (const answer of answers) {
    const histogram = usableHistogram(answer.evaluation);
    if (typeof histogram === 'string') {
      excluded.push({
        hospitalId: answer.hospitalId,
        hospital: answer.hospitalName,
        reason: histogram,
      });
    } else {
      usable.push(histogram);
    }
  }
  const pooled = usable.length > 0 ? mergeScoreHistograms(usable) : null;
  const calibration = { pooled, hospitals: usable.length };
  if (rule.kind === 'fixed') return { ...calibration, threshold: fixedThreshold(rule.value) };

  const totals = pooled ? histogramTotals(pooled) : { positives: 0, negatives: 0 };
  const basis: CalibrationBasis = {
    hospitals: usable.length,
    images: totals.positives + totals.negatives,
    ...totals,
    bins: HISTOGRAM_BINS,
    excluded,
  };
  return { ...calibration, threshold: chooseOnPool(rule, pooled, basis) };
}

function chooseOnPool(
  rule: ThresholdRule,
  pooled: ScoreHistogram | null,
  basis: CalibrationBasis,
): ModelThreshold {
  const name = formatThresholdRule(rule);
  if (pooled === null || basis.images === 0) {
    return {
      threshold: FALLBACK,
      rule: name,
      description: `${name} needs the hospitals' score histograms and none came back; using ${FALLBACK}`,
      basis,
    };
  }
  // Falls back to 0.5 itself, saying so, when the pool lacks a class the rule needs.
  const choice = thresholdFromHistogram(pooled, rule);
  return {
    threshold: choice.threshold,
    rule: choice.rule,
    description: `${choice.description}, pooled from ${basis.hospitals} hospital(s)`,
    basis,
  };
}

/** The answer's histogram, or why it cannot be pooled. */
function usableHistogram(evaluation: Evaluation | undefined): ScoreHistogram | string {
  if (!evaluation) return 'its evaluation failed';
  const h = evaluation.histogram;
  if (!h) return 'its answer has no score histogram (a node older than the histogram)';
  if (h.bins !== HISTOGRAM_BINS) return `its histogram has ${h.bins} bins, not ${HISTOGRAM_BINS}`;
  if (h.positive.length !== h.bins || h.negative.length !== h.bins) {
    return `its histogram has ${h.positive.length} and ${h.negative.length} counts for ${h.bins} bins`;
  }
  const { positives, negatives } = histogramTotals(h);
  if (positives + negatives > MAX_IMAGES_PER_HOSPITAL) {
    return `its histogram counts ${positives + negatives} images, more than ${MAX_IMAGES_PER_HOSPITAL}`;
  }
  if (positives + negatives !== evaluation.n) {
    return `its histogram counts ${positives + negatives} images, its answer n = ${evaluation.n}`;
  }
  return h;
}

/** Point metrics of the pooled validation splits at a threshold (PNEUMONIA is positive). */
export interface PooledMetrics {
  threshold: number;
  n: number;
  hospitals: number;
  accuracy: number;
  precision: number;
  recall: number;
  specificity: number;
  f1: number;
  confusion: { tp: number; fp: number; tn: number; fn: number };
}

/**
 * The pooled confusion counts at `threshold`, exact when it is a bin edge k / bins below 1
 * (every image of a bin is then on one side of it); null otherwise (a Youden midpoint, a
 * shrunk threshold). Undefined ratios are 0, as in the nodes' answers.
 */
export function pooledMetrics(
  pooled: ScoreHistogram,
  threshold: number,
  hospitals: number,
): PooledMetrics | null {
  const confusion = confusionAtThreshold(pooled, threshold);
  if (!confusion) return null;
  const { tp, fp, tn, fn } = confusion;
  const ratio = (a: number, b: number): number => (b > 0 ? a / b : 0);
  return {
    threshold,
    n: tp + fp + tn + fn,
    hospitals,
    accuracy: ratio(tp + tn, tp + fp + tn + fn),
    precision: ratio(tp, tp + fp),
    recall: ratio(tp, tp + fn),
    specificity: ratio(tn, tn + fp),
    f1: ratio(2 * tp, 2 * tp + fp + fn),
    confusion,
  };
}
