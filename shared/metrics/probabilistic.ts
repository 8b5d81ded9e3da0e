/**
 * Scores of the predicted probabilities themselves, not of one threshold: log-loss, Brier
 * score and expected calibration error. Unlike accuracy and AUC on an easy validation split
 * they do not saturate near their best value, so they still separate two models whose
 * rankings are both almost perfect (the robust-diagnosis protocol selects on them).
 */
import { createRng } from '../util/random.ts';
import { percentileInterval } from './bootstrap.ts';
import type { Estimate } from './types.ts';

/** Probabilities are clipped to [EPS, 1 - EPS] in the log-loss, so one sure mistake is finite. */
export const LOG_LOSS_EPS = 1e-7;
/** Equal-width confidence bins of the ECE (Guo et al. 2017 use 15). */
export const ECE_BINS = 15;

export interface ProbabilisticScores {
  /** Mean negative log-likelihood of the true class (nats); lower is better. */
  logLoss: Estimate;
  /** Mean squared error of P(PNEUMONIA) against the 0/1 label; lower is better. */
  brier: Estimate;
  /**
   * Expected calibration error of the top-label confidence max(p, 1 - p) over ECE_BINS
   * equal-width bins: sum over bins of |bin| / n * |accuracy - mean confidence|.
   */
  ece: Estimate;
}

export interface ProbabilisticOptions {
  /** Percentile-bootstrap resamples for the intervals; 0 gives [value, value]. Default 1000. */
  bootstrapSamples?: number;
  seed?: number;
}

function check(labels: ArrayLike<number>, probabilities: ArrayLike<number>): void {
  if (labels.length !== probabilities.length)
    throw new RangeError(`${labels.length} labels but ${probabilities.length} probabilities`);
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 0 && labels[i] !== 1) throw new RangeError(`label ${labels[i]} is not 0/1`);
    const p = probabilities[i];
    if (!(p >= 0 && p <= 1)) throw new RangeError(`probability ${p} is not in [0, 1]`);
  }
}

/** The three scores of the samples, each sample counted `weights[i]` times (default once). */
function pointScores(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  weights?: ArrayLike<number>,
): { logLoss: number; brier: number; ece: number } {
  let n = 0;
  let logLoss = 0;
  let brier = 0;
  const binCount = new Float64Array(ECE_BINS);
  const binCorrect = new Float64Array(ECE_BINS);
  const binConfidence = new Float64Array(ECE_BINS);
  for (let i = 0; i < labels.length; i++) {
    const w = weights ? weights[i] : 1;
    if (w === 0) continue;
    const p = probabilities[i];
    const y = labels[i];
    const pTrue = Math.min(1 - LOG_LOSS_EPS, Math.max(LOG_LOSS_EPS, y === 1 ? p : 1 - p));
    logLoss -= w * Math.log(pTrue);
    brier += w * (p - y) ** 2;
    const confidence = Math.max(p, 1 - p);
    const bin = Math.min(ECE_BINS - 1, Math.floor(confidence * ECE_BINS));
    binCount[bin] += w;
    binConfidence[bin] += w * confidence;
    if ((p >= 0.5 ? 1 : 0) === y) binCorrect[bin] += w;
    n += w;
  }
  let ece = 0;
  for (let b = 0; b < ECE_BINS; b++)
    if (binCount[b] > 0) ece += Math.abs(binCorrect[b] - binConfidence[b]) / n;
  return { logLoss: logLoss / n, brier: brier / n, ece };
}

/** Log-loss, Brier score and ECE with seeded percentile-bootstrap 95% intervals. */
export function probabilisticScores(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  opts: ProbabilisticOptions = {},
): ProbabilisticScores {
  check(labels, probabilities);
  const n = labels.length;
  if (n === 0) throw new RangeError('no samples to score');
  const point = pointScores(labels, probabilities);
  const samples = opts.bootstrapSamples ?? 1000;
  const draws = { logLoss: [] as number[], brier: [] as number[], ece: [] as number[] };
  const rng = createRng(opts.seed ?? 1);
  const counts = new Uint32Array(n);
  for (let s = 0; s < samples; s++) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[rng.int(n)]++;
    const scores = pointScores(labels, probabilities, counts);
    draws.logLoss.push(scores.logLoss);
    draws.brier.push(scores.brier);
    draws.ece.push(scores.ece);
  }
  const estimate = (key: keyof typeof point): Estimate => ({
    value: point[key],
    ci95: samples > 0 ? percentileInterval(draws[key]) : [point[key], point[key]],
  });
  return { logLoss: estimate('logLoss'), brier: estimate('brier'), ece: estimate('ece') };
}
