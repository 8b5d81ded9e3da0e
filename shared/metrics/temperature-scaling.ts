/**
 * Temperature scaling (Guo et al. 2017) fitted without any per-image score leaving a hospital:
 * each hospital sums, over its held-out images, the negative log-likelihood of the tempered
 * probability sigmoid(logit(p) / T) at a fixed grid of temperatures, with reliability bins of
 * the tempered probability at every grid T (temperatureCurve). The sums of all hospitals add
 * up (mergeTemperatureCurves) and the temperature minimising the pooled NLL is read off the
 * curve (fitTemperature). A 200-bin score histogram cannot do this: every p > 0.995 shares a bin.
 */
import { checkBinaryInputs } from './input.ts';
import { LOG_LOSS_EPS } from './probabilistic.ts';

/** 81 temperatures 2^(-2 + i/20): 0.25 .. 4, 3.5% apart, with T = 1 exactly at index 40. */
export const TEMPERATURE_GRID: readonly number[] = Array.from(
  { length: 81 },
  (_, i) => 2 ** (-2 + i / 20),
);
/** Equal-width bins of the tempered P(PNEUMONIA) in the reliability sums. */
export const RELIABILITY_BINS = 10;

/**
 * What a hospital shares about its held-out split: sums over its images only. For the grid
 * temperature temperatures[t]: nll[t] is the summed NLL (nats), and per reliability bin b of
 * the tempered probability, count[t][b] images, probabilitySum[t][b] their summed tempered
 * P(PNEUMONIA) and positives[t][b] the PNEUMONIA images among them.
 */
export interface TemperatureCurve {
  temperatures: number[];
  nll: number[];
  bins: number;
  count: number[][];
  probabilitySum: number[][];
  positives: number[][];
}

/** One bar of a reliability diagram: images with tempered P(PNEUMONIA) in [lower, upper). */
export interface ReliabilityBin {
  lower: number;
  upper: number;
  count: number;
  /** Mean tempered P(PNEUMONIA) of the bin's images; null for an empty bin. */
  meanProbability: number | null;
  /** Share of PNEUMONIA among them; null for an empty bin. */
  positiveRate: number | null;
}

/** A fitted temperature and what it did on the images it was fitted on. */
export interface TemperatureCalibration {
  method: 'temperature';
  /** Calibrated P(PNEUMONIA) = sigmoid(logit(p) / temperature). */
  temperature: number;
  /** Mean NLL per image (nats) at T = 1 and at afterTemperature. */
  nllBefore: number;
  nllAfter: number;
  /** Expected calibration error of P(PNEUMONIA) over the reliability bins, at T = 1 and after. */
  eceBefore: number;
  eceAfter: number;
  /** The grid temperature nearest `temperature`, where the "after" figures are measured. */
  afterTemperature: number;
  reliabilityBefore: ReliabilityBin[];
  reliabilityAfter: ReliabilityBin[];
  basis: {
    hospitals: number;
    images: number;
    positives: number;
    /** Hospitals left out of the fit, and why. */
    excluded: { hospitalId: string; hospital: string; reason: string }[];
  };
  description: string;
}

/** logit(p) with p clipped to [EPS, 1 - EPS], so a saturated score stays finite. */
export function clippedLogit(p: number): number {
  const q = Math.min(1 - LOG_LOSS_EPS, Math.max(LOG_LOSS_EPS, p));
  return Math.log(q / (1 - q));
}

/** sigmoid(logit(p) / T); p itself at T = 1. */
export function temperProbability(p: number, temperature: number): number {
  if (!(temperature > 0) || !Number.isFinite(temperature))
    throw new RangeError(`temperature must be positive and finite, got ${temperature}`);
  if (temperature === 1) return p;
  return 1 / (1 + Math.exp(-clippedLogit(p) / temperature));
}

/** log(1 + e^x) without overflow. */
function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

function zeros(rows: number, columns: number): number[][] {
  return Array.from({ length: rows }, () => new Array<number>(columns).fill(0));
}

/** The sums a hospital answers for its labels (1 = PNEUMONIA) and model probabilities. */
export function temperatureCurve(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  temperatures: readonly number[] = TEMPERATURE_GRID,
  bins: number = RELIABILITY_BINS,
): TemperatureCurve {
  checkBinaryInputs(labels, probabilities);
  const curve: TemperatureCurve = {
    temperatures: [...temperatures],
    nll: new Array<number>(temperatures.length).fill(0),
    bins,
    count: zeros(temperatures.length, bins),
    probabilitySum: zeros(temperatures.length, bins),
    positives: zeros(temperatures.length, bins),
  };
  for (let i = 0; i < labels.length; i++) {
    const z = clippedLogit(probabilities[i]);
    const y = labels[i];
    for (let t = 0; t < temperatures.length; t++) {
      const s = z / temperatures[t];
      // -log sigmoid(s) for a positive, -log(1 - sigmoid(s)) = softplus(s) for a negative.
      curve.nll[t] += y === 1 ? softplus(-s) : softplus(s);
      const q = 1 / (1 + Math.exp(-s));
      const b = Math.min(bins - 1, Math.floor(q * bins));
      curve.count[t][b]++;
      curve.probabilitySum[t][b] += q;
      if (y === 1) curve.positives[t][b]++;
    }
  }
  return curve;
}

/**
 * Why a curve answered by a hospital cannot be pooled (other grid or bin count, arrays of the
 * wrong length, negative or non-finite sums, counts that do not add up to `images`), or null.
 */
export function curveProblem(
  curve: TemperatureCurve,
  expected: { temperatures: readonly number[]; bins: number; images: number },
): string | null {
  const { temperatures, bins, images } = expected;
  const sameGrid =
    curve.temperatures.length === temperatures.length &&
    curve.temperatures.every((t, i) => Math.abs(t - temperatures[i]) <= 1e-9 * temperatures[i]);
  if (!sameGrid) return `its temperature grid is not the ${temperatures.length}-point grid`;
  if (curve.bins !== bins) return `its reliability has ${curve.bins} bins, not ${bins}`;
  if (curve.nll.length !== temperatures.length)
    return `it has ${curve.nll.length} NLL sums for ${temperatures.length} temperatures`;
  const finite = (x: number) => Number.isFinite(x) && x >= 0;
  if (!curve.nll.every(finite)) return 'its NLL sums are not all finite and non-negative';
  for (const key of ['count', 'probabilitySum', 'positives'] as const) {
    const rows = curve[key];
    if (rows.length !== temperatures.length || rows.some((row) => row.length !== bins))
      return `its ${key} is not ${temperatures.length} x ${bins}`;
    if (!rows.every((row) => row.every(finite)))
      return `its ${key} are not all finite and non-negative`;
  }
  for (let t = 0; t < temperatures.length; t++) {
    let total = 0;
    for (let b = 0; b < bins; b++) {
      const count = curve.count[t][b];
      if (!Number.isInteger(count) || !Number.isInteger(curve.positives[t][b]))
        return 'its reliability counts are not integers';
      if (curve.positives[t][b] > count || curve.probabilitySum[t][b] > count * (1 + 1e-9))
        return 'its reliability bins do not add up (more positives or probability than images)';
      total += count;
    }
    if (total !== images)
      return `its reliability counts ${total} images at T = ${fmt(curve.temperatures[t])}, its answer n = ${images}`;
  }
  return null;
}

/** Sums curves of the same grid and bins (the hospitals' into one pooled curve). */
export function mergeTemperatureCurves(curves: readonly TemperatureCurve[]): TemperatureCurve {
  if (curves.length === 0) throw new RangeError('no temperature curve to merge');
  const [first] = curves;
  const merged: TemperatureCurve = {
    temperatures: [...first.temperatures],
    nll: new Array<number>(first.nll.length).fill(0),
    bins: first.bins,
    count: zeros(first.nll.length, first.bins),
    probabilitySum: zeros(first.nll.length, first.bins),
    positives: zeros(first.nll.length, first.bins),
  };
  for (const curve of curves) {
    if (curve.nll.length !== merged.nll.length || curve.bins !== merged.bins)
      throw new RangeError('cannot merge temperature curves of different grids or bins');
    for (let t = 0; t < merged.nll.length; t++) {
      merged.nll[t] += curve.nll[t];
      for (let b = 0; b < merged.bins; b++) {
        merged.count[t][b] += curve.count[t][b];
        merged.probabilitySum[t][b] += curve.probabilitySum[t][b];
        merged.positives[t][b] += curve.positives[t][b];
      }
    }
  }
  return merged;
}

/** Images a curve sums over (its reliability counts at any one temperature). */
export function curveImages(curve: TemperatureCurve): { images: number; positives: number } {
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return { images: sum(curve.count[0] ?? []), positives: sum(curve.positives[0] ?? []) };
}

/**
 * The temperature minimising the curve's NLL: the best grid point (T = 1 unless another is
 * strictly better, so a flat curve changes nothing), refined by the vertex of the parabola
 * through it and its neighbours in log T. `index` is the best grid point, within half a grid
 * step of `temperature`; `atEdge` when it is the grid's first or last (the optimum may lie beyond).
 */
export function fitTemperature(curve: TemperatureCurve): {
  temperature: number;
  index: number;
  atEdge: boolean;
} {
  const { nll, temperatures } = curve;
  const unit = temperatures.findIndex((t) => t === 1);
  let best = unit >= 0 ? unit : 0;
  for (let t = 0; t < nll.length; t++) if (nll[t] < nll[best]) best = t;
  const atEdge = best === 0 || best === nll.length - 1;
  if (atEdge) return { temperature: temperatures[best], index: best, atEdge };
  const [left, mid, right] = [nll[best - 1], nll[best], nll[best + 1]];
  const curvature = left - 2 * mid + right;
  const offset =
    curvature > 0 ? Math.max(-0.5, Math.min(0.5, (left - right) / (2 * curvature))) : 0;
  const logLeft = Math.log(temperatures[best - 1]);
  const logMid = Math.log(temperatures[best]);
  const logRight = Math.log(temperatures[best + 1]);
  const step = offset < 0 ? logMid - logLeft : logRight - logMid;
  return { temperature: Math.exp(logMid + offset * step), index: best, atEdge };
}

/** The reliability diagram of the curve's grid temperature `index`. */
export function reliabilityAt(curve: TemperatureCurve, index: number): ReliabilityBin[] {
  return Array.from({ length: curve.bins }, (_, b) => {
    const count = curve.count[index][b];
    return {
      lower: b / curve.bins,
      upper: (b + 1) / curve.bins,
      count,
      meanProbability: count > 0 ? curve.probabilitySum[index][b] / count : null,
      positiveRate: count > 0 ? curve.positives[index][b] / count : null,
    };
  });
}

/** sum over bins of |bin| / n * |positive rate - mean P(PNEUMONIA)|; 0 without images. */
export function expectedCalibrationError(bins: readonly ReliabilityBin[]): number {
  const n = bins.reduce((sum, b) => sum + b.count, 0);
  if (n === 0) return 0;
  let ece = 0;
  for (const b of bins) {
    if (b.count === 0 || b.meanProbability === null || b.positiveRate === null) continue;
    ece += (b.count / n) * Math.abs(b.positiveRate - b.meanProbability);
  }
  return ece;
}

/**
 * The fitted temperature of a pooled curve with its before (T = 1) and after figures; null
 * when the curve sums no image or has no T = 1.
 */
export function calibrateTemperature(
  pooled: TemperatureCurve,
  basis: { hospitals: number; excluded?: TemperatureCalibration['basis']['excluded'] },
): TemperatureCalibration | null {
  const { images, positives } = curveImages(pooled);
  const unit = pooled.temperatures.findIndex((t) => t === 1);
  if (images === 0 || unit < 0) return null;
  const fit = fitTemperature(pooled);
  const before = reliabilityAt(pooled, unit);
  const after = reliabilityAt(pooled, fit.index);
  const nllBefore = pooled.nll[unit] / images;
  const nllAfter = pooled.nll[fit.index] / images;
  const edge = fit.atEdge ? ' (at the edge of the grid: the best T may lie beyond)' : '';
  return {
    method: 'temperature',
    temperature: fit.temperature,
    nllBefore,
    nllAfter,
    eceBefore: expectedCalibrationError(before),
    eceAfter: expectedCalibrationError(after),
    afterTemperature: pooled.temperatures[fit.index],
    reliabilityBefore: before,
    reliabilityAfter: after,
    basis: { hospitals: basis.hospitals, images, positives, excluded: basis.excluded ?? [] },
    description:
      `temperature ${fmt(fit.temperature)}${edge} minimises the NLL of ${images} held-out ` +
      `images of ${basis.hospitals} hospital(s): ${fmt(nllBefore)} -> ${fmt(nllAfter)} nats per image`,
  };
}

function fmt(x: number): string {
  return String(Number(x.toFixed(4)));
}
