/**
 * The appearance half of training-time augmentation, on one decoded image (size x size floats,
 * any normalisation): a gamma curve, a box blur, additive Gaussian noise and one cutout
 * rectangle. These imitate other scanners, exposures, exports and burnt-in annotations, the
 * acquisition changes under which the corruption suite (shared/robustness) saw the
 * specificity of the light recipe fall.
 */
import { createRng, type Rng } from '../util/random.ts';

export interface AppearanceOptions {
  /** Max |ln gamma|; the curve's exponent is exp(U(-g, g)). 0 = off. */
  gamma: number;
  /** Probability of a box blur of radius max(1, round(size / 64)). */
  blurProbability: number;
  /** Max noise std, in units of the image's own std; the std is drawn from U(0, noise). */
  noise: number;
  /** Probability of one cutout rectangle filled with the image mean. */
  cutoutProbability: number;
  /** Max side of the cutout rectangle, as a fraction of the image side. */
  cutoutSize: number;
}

export const NO_APPEARANCE: Readonly<AppearanceOptions> = Object.freeze({
  gamma: 0,
  blurProbability: 0,
  noise: 0,
  cutoutProbability: 0,
  cutoutSize: 0,
});

/** The random parameters of one appearance change (8 draws, in a fixed order). */
export interface AppearanceParams {
  gamma: number;
  blur: boolean;
  noiseStd: number;
  noiseSeed: number;
  /** Rectangle [x0, y0, x1, y1) in pixels; null = no cutout. */
  cutout: readonly [number, number, number, number] | null;
}

export function appearanceEnabled(o: AppearanceOptions): boolean {
  return o.gamma > 0 || o.blurProbability > 0 || o.noise > 0 || o.cutoutProbability > 0;
}

export function validateAppearance(o: AppearanceOptions): void {
  for (const key of ['gamma', 'noise'] as const) {
    if (!(o[key] >= 0 && o[key] <= 3))
      throw new RangeError(`${key} must be in [0, 3], got ${o[key]}`);
  }
  for (const key of ['blurProbability', 'cutoutProbability', 'cutoutSize'] as const) {
    if (!(o[key] >= 0 && o[key] <= 1))
      throw new RangeError(`${key} must be in [0, 1], got ${o[key]}`);
  }
}

export function drawAppearanceParams(
  size: number,
  rng: Rng,
  o: AppearanceOptions,
): AppearanceParams {
  const gamma = Math.exp(rng.uniform(-o.gamma, o.gamma));
  const blur = rng.next() < o.blurProbability;
  const noiseStd = rng.uniform(0, o.noise);
  const noiseSeed = rng.int(2 ** 31);
  const cut = rng.next() < o.cutoutProbability;
  const w = Math.max(1, Math.round(rng.uniform(0.25, 1) * o.cutoutSize * size));
  const h = Math.max(1, Math.round(rng.uniform(0.25, 1) * o.cutoutSize * size));
  const cx = rng.int(size);
  const cy = rng.int(size);
  const x0 = Math.max(0, cx - (w >> 1));
  const y0 = Math.max(0, cy - (h >> 1));
  return {
    gamma,
    blur,
    noiseStd,
    noiseSeed,
    cutout:
      cut && o.cutoutSize > 0 ? [x0, y0, Math.min(size, x0 + w), Math.min(size, y0 + h)] : null,
  };
}

function stats(img: Float32Array): { mean: number; std: number; min: number; max: number } {
  let sum = 0;
  let sumSq = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of img) {
    sum += v;
    sumSq += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const n = Math.max(img.length, 1);
  const mean = sum / n;
  return { mean, std: Math.sqrt(Math.max(sumSq / n - mean * mean, 0)), min, max };
}

/** Gamma on the image's own [min, max] range, then back to its mean and std: shape only. */
function applyGamma(img: Float32Array, gamma: number): void {
  const before = stats(img);
  const range = before.max - before.min;
  if (range <= 0) return;
  for (let i = 0; i < img.length; i++) {
    img[i] = before.min + range * ((img[i] - before.min) / range) ** gamma;
  }
  const after = stats(img);
  if (after.std <= 0) return;
  const scale = before.std / after.std;
  for (let i = 0; i < img.length; i++) img[i] = before.mean + (img[i] - after.mean) * scale;
}

/** Separable box blur with clamped edges. */
function boxBlur(img: Float32Array, size: number, radius: number): void {
  const tmp = new Float32Array(img.length);
  const width = 2 * radius + 1;
  const last = size - 1;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let s = 0;
      for (let k = -radius; k <= radius; k++)
        s += img[y * size + Math.min(Math.max(x + k, 0), last)];
      tmp[y * size + x] = s / width;
    }
  }
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let s = 0;
      for (let k = -radius; k <= radius; k++)
        s += tmp[Math.min(Math.max(y + k, 0), last) * size + x];
      img[y * size + x] = s / width;
    }
  }
}

/** Applies the parameters to img in place (size x size floats). */
export function applyAppearance(img: Float32Array, size: number, p: AppearanceParams): void {
  if (img.length !== size * size) {
    throw new RangeError(`image has ${img.length} values, expected ${size}x${size}`);
  }
  if (p.gamma !== 1) applyGamma(img, p.gamma);
  if (p.blur) boxBlur(img, size, Math.max(1, Math.round(size / 64)));
  const { mean, std } = stats(img);
  if (p.noiseStd > 0 && std > 0) {
    const noise = createRng(p.noiseSeed);
    const sigma = p.noiseStd * std;
    for (let i = 0; i < img.length; i++) img[i] += sigma * noise.normal();
  }
  if (p.cutout) {
    const [x0, y0, x1, y1] = p.cutout;
    for (let y = y0; y < y1; y++) img.fill(mean, y * size + x0, y * size + x1);
  }
}
