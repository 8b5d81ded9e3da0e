import { checkBinaryInputs } from './input.ts';
import { chooseThreshold, type ThresholdChoice, type ThresholdRule } from './threshold.ts';

/**
 * How many images of each class scored in each of `bins` equal-width bins of [0, 1]: what a
 * hospital shares about its held-out split so that the operating threshold can be chosen on
 * the pooled data of all hospitals without any per-image score leaving the hospital.
 * Bin k holds probabilities in [k / bins, (k + 1) / bins); a probability of exactly 1 goes to
 * the last bin.
 */
export interface ScoreHistogram {
  bins: number;
  /** Count of PNEUMONIA (label 1) images per bin. */
  positive: number[];
  /** Count of NORMAL (label 0) images per bin. */
  negative: number[];
}

export const DEFAULT_HISTOGRAM_BINS = 200;

export function scoreHistogram(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  bins: number = DEFAULT_HISTOGRAM_BINS,
): ScoreHistogram {
  checkBins(bins);
  checkBinaryInputs(labels, probabilities);
  const positive = new Array<number>(bins).fill(0);
  const negative = new Array<number>(bins).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const p = probabilities[i];
    if (!(p >= 0 && p <= 1))
      throw new RangeError(`probability ${p} at index ${i} is not in [0, 1]`);
    const bin = Math.min(bins - 1, Math.floor(p * bins));
    if (labels[i] === 1) positive[bin]++;
    else negative[bin]++;
  }
  return { bins, positive, negative };
}

/** Sums histograms of the same bin count (the hospitals' into one pooled histogram). */
export function mergeScoreHistograms(histograms: readonly ScoreHistogram[]): ScoreHistogram {
  if (histograms.length === 0) throw new RangeError('no histogram to merge');
  const { bins } = histograms[0];
  const merged: ScoreHistogram = {
    bins,
    positive: new Array<number>(bins).fill(0),
    negative: new Array<number>(bins).fill(0),
  };
  for (const h of histograms) {
    checkHistogram(h);
    if (h.bins !== bins)
      throw new RangeError(`cannot merge histograms of ${bins} and ${h.bins} bins`);
    for (let k = 0; k < bins; k++) {
      merged.positive[k] += h.positive[k];
      merged.negative[k] += h.negative[k];
    }
  }
  return merged;
}

export function histogramTotals(h: ScoreHistogram): { positives: number; negatives: number } {
  const sum = (xs: number[]): number => xs.reduce((s, x) => s + x, 0);
  return { positives: sum(h.positive), negatives: sum(h.negative) };
}

/**
 * Applies a threshold rule (shared/metrics/threshold.ts) to a histogram: every image counts as
 * scoring its bin's lower edge. A min-recall threshold is then a bin edge with every image of a
 * bin on the same side of it, so the recall the rule sees is exactly the recall the threshold
 * gives on the images behind the histogram: the target is met on them, never approximately.
 */
export function thresholdFromHistogram(h: ScoreHistogram, rule: ThresholdRule): ThresholdChoice {
  checkHistogram(h);
  const labels: number[] = [];
  const scores: number[] = [];
  for (let k = 0; k < h.bins; k++) {
    const edge = k / h.bins;
    for (let i = 0; i < h.positive[k]; i++) {
      labels.push(1);
      scores.push(edge);
    }
    for (let i = 0; i < h.negative[k]; i++) {
      labels.push(0);
      scores.push(edge);
    }
  }
  if (labels.length === 0) throw new RangeError('the histogram is empty');
  const choice = chooseThreshold(labels, scores, rule);
  return { ...choice, description: `${choice.description} (${h.bins}-bin score histogram)` };
}

function checkBins(bins: number): void {
  if (!Number.isInteger(bins) || bins < 2 || bins > 10_000)
    throw new RangeError(`bins must be an integer in [2, 10000], got ${bins}`);
}

function checkHistogram(h: ScoreHistogram): void {
  checkBins(h.bins);
  for (const counts of [h.positive, h.negative]) {
    if (counts.length !== h.bins)
      throw new RangeError(`a ${h.bins}-bin histogram has ${counts.length} counts`);
    for (const c of counts)
      if (!Number.isInteger(c) || c < 0)
        throw new RangeError(`histogram counts must be non-negative integers, got ${c}`);
  }
}

/**
 * The confusion counts of the images behind a histogram at `threshold`, exact when the
 * threshold is a bin edge k / bins below 1 (every image of a bin is then on one side of it),
 * at or below 0 (all positive) or above 1 (all negative); null for any other threshold.
 */
export function confusionAtThreshold(
  h: ScoreHistogram,
  threshold: number,
): { tp: number; fp: number; tn: number; fn: number } | null {
  const edge = Math.round(threshold * h.bins);
  const isEdge = Math.abs(edge / h.bins - threshold) < 1e-9 && edge < h.bins;
  if (threshold > 0 && threshold <= 1 && !isEdge) return null;
  const first = threshold <= 0 ? 0 : threshold > 1 ? h.bins : edge;
  const confusion = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let k = 0; k < h.bins; k++) {
    if (k >= first) {
      confusion.tp += h.positive[k];
      confusion.fp += h.negative[k];
    } else {
      confusion.fn += h.positive[k];
      confusion.tn += h.negative[k];
    }
  }
  return confusion;
}
