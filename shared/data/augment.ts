/**
 * Training-time augmentation of one decoded image (size x size floats), in plain JS: one
 * random affine transform (rotation, shift, zoom) resampled bilinearly, then brightness and
 * contrast jitter, then (the strong policy) appearance changes from augment-appearance.ts.
 *
 * No horizontal (or vertical) flips: chest anatomy is asymmetric (the heart lies on the left,
 * the liver on the right), so a mirrored radiograph looks like dextrocardia / situs inversus,
 * and the L/R laterality markers burnt into the image would flip too. A model should never
 * have to learn that mirrored anatomy is normal.
 */
import type { Rng } from '../util/random.ts';
import {
  appearanceEnabled,
  applyAppearance,
  drawAppearanceParams,
  NO_APPEARANCE,
  validateAppearance,
  type AppearanceOptions,
} from './augment-appearance.ts';

/** 'black' is the image's minimum, as film outside the collimated field or a scanner border. */
export type AugmentFill = 'edge' | 'mean' | 'black';

export interface AugmentOptions extends Partial<AppearanceOptions> {
  /** Return the image unchanged (a copy). Default false. */
  none?: boolean;
  /** Max rotation in degrees, drawn uniformly from [-r, r]. Default 10. */
  rotationDeg?: number;
  /** Max shift on each axis as a fraction of the side, drawn from [-s, s]. Default 0.08. */
  shift?: number;
  /** Zoom factor range (> 1 magnifies). Default [0.9, 1.1]. */
  zoom?: readonly [number, number];
  /** Max additive brightness shift, in units of the image's own std. Default 0.1. */
  brightness?: number;
  /** Contrast factor drawn from [1 - c, 1 + c], applied around the image mean. Default 0.1. */
  contrast?: number;
  /**
   * What fills pixels mapped from outside the image: 'edge' repeats the nearest border pixel
   * (Keras' 'nearest'), 'mean' uses the image mean. Default 'edge'.
   */
  fill?: AugmentFill;
  /** Probability that an image's outside pixels are 'black' instead of `fill`. Default 0. */
  blackFillProbability?: number;
}

export type ResolvedAugmentOptions = Required<AugmentOptions>;

export const DEFAULT_AUGMENT: Readonly<ResolvedAugmentOptions> = Object.freeze({
  none: false,
  rotationDeg: 10,
  shift: 0.08,
  zoom: [0.9, 1.1] as const,
  brightness: 0.1,
  contrast: 0.1,
  fill: 'edge',
  blackFillProbability: 0,
  ...NO_APPEARANCE,
});

/**
 * Named policies, the recipe's `augmentPolicy`. 'light' is the engine's default since the
 * start. 'strong' widens the geometry (zoom 0.75-1.3 with a black frame half the time, as a
 * zoomed-out or shifted exposure shows, shift 12%) and adds gamma, blur, noise and cutout.
 */
export type AugmentPolicy = 'light' | 'strong';

export const AUGMENT_POLICIES: Readonly<Record<AugmentPolicy, AugmentOptions>> = Object.freeze({
  light: {},
  strong: {
    rotationDeg: 10,
    shift: 0.12,
    zoom: [0.75, 1.3] as const,
    brightness: 0.2,
    contrast: 0.25,
    fill: 'edge',
    blackFillProbability: 0.5,
    gamma: 0.6,
    blurProbability: 0.25,
    noise: 0.1,
    cutoutProbability: 0.5,
    cutoutSize: 0.3,
  },
});

export function resolveAugmentOptions(opts: AugmentOptions = {}): ResolvedAugmentOptions {
  const resolved = { ...DEFAULT_AUGMENT, ...opts };
  const [zLo, zHi] = resolved.zoom;
  if (!(zLo > 0 && zHi >= zLo)) throw new RangeError(`invalid zoom range [${zLo}, ${zHi}]`);
  for (const key of ['rotationDeg', 'shift', 'brightness', 'contrast'] as const) {
    if (!(resolved[key] >= 0)) throw new RangeError(`${key} must be >= 0, got ${resolved[key]}`);
  }
  if (resolved.contrast >= 1) throw new RangeError('contrast must be < 1');
  if (!(resolved.blackFillProbability >= 0 && resolved.blackFillProbability <= 1))
    throw new RangeError('blackFillProbability must be in [0, 1]');
  validateAppearance(resolved);
  return resolved;
}

/** The random parameters of one augmentation, drawn in a fixed order (6 draws per image). */
export interface AugmentParams {
  angleRad: number;
  shiftX: number;
  shiftY: number;
  zoom: number;
  brightness: number;
  contrast: number;
}

/** The augmentation that changes nothing (a base for fixed transforms, e.g. test-time ones). */
export const IDENTITY_AUGMENT: Readonly<AugmentParams> = Object.freeze({
  angleRad: 0,
  shiftX: 0,
  shiftY: 0,
  zoom: 1,
  brightness: 0,
  contrast: 1,
});

export function drawAugmentParams(
  size: number,
  rng: Rng,
  opts: ResolvedAugmentOptions,
): AugmentParams {
  const maxShift = opts.shift * size;
  return {
    angleRad: (rng.uniform(-opts.rotationDeg, opts.rotationDeg) * Math.PI) / 180,
    shiftX: rng.uniform(-maxShift, maxShift),
    shiftY: rng.uniform(-maxShift, maxShift),
    zoom: rng.uniform(opts.zoom[0], opts.zoom[1]),
    brightness: rng.uniform(-opts.brightness, opts.brightness),
    contrast: rng.uniform(1 - opts.contrast, 1 + opts.contrast),
  };
}

function meanStd(src: Float32Array): { mean: number; std: number } {
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < src.length; i++) {
    sum += src[i];
    sumSq += src[i] * src[i];
  }
  const n = Math.max(src.length, 1);
  const mean = sum / n;
  return { mean, std: Math.sqrt(Math.max(sumSq / n - mean * mean, 0)) };
}

/** Applies given parameters (exposed for tests and previews); src is not modified. */
export function applyAugment(
  src: Float32Array,
  size: number,
  p: AugmentParams,
  fill: AugmentFill = 'edge',
): Float32Array {
  if (src.length !== size * size) {
    throw new RangeError(`image has ${src.length} values, expected ${size}x${size}`);
  }
  const out = new Float32Array(size * size);
  const { mean, std } = meanStd(src);
  const outside = fill === 'black' ? src.reduce((m, v) => (v < m ? v : m), Infinity) : mean;
  const last = size - 1;
  const c = last / 2;
  // Inverse map: output pixel -> source point = c + R(-angle) * (dst - c - shift) / zoom.
  const cos = Math.cos(p.angleRad) / p.zoom;
  const sin = Math.sin(p.angleRad) / p.zoom;
  const pixel =
    fill === 'edge'
      ? (x: number, y: number): number =>
          src[Math.min(Math.max(y, 0), last) * size + Math.min(Math.max(x, 0), last)]
      : (x: number, y: number): number =>
          x < 0 || y < 0 || x > last || y > last ? outside : src[y * size + x];
  const photometric = p.contrast !== 1 || p.brightness !== 0;
  const offset = mean + p.brightness * std;
  for (let y = 0; y < size; y++) {
    const dy = y - c - p.shiftY;
    for (let x = 0; x < size; x++) {
      const dx = x - c - p.shiftX;
      const sx = c + cos * dx + sin * dy;
      const sy = c - sin * dx + cos * dy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      let v: number;
      if (x0 >= 0 && y0 >= 0 && x0 < last && y0 < last) {
        const i = y0 * size + x0;
        const top = src[i] + (src[i + 1] - src[i]) * fx;
        const bottom = src[i + size] + (src[i + size + 1] - src[i + size]) * fx;
        v = top + (bottom - top) * fy;
      } else {
        const top = pixel(x0, y0) * (1 - fx) + pixel(x0 + 1, y0) * fx;
        const bottom = pixel(x0, y0 + 1) * (1 - fx) + pixel(x0 + 1, y0 + 1) * fx;
        v = top * (1 - fy) + bottom * fy;
      }
      out[y * size + x] = photometric ? (v - mean) * p.contrast + offset : v;
    }
  }
  return out;
}

/**
 * Returns a new augmented copy of src (size*size floats, row-major). Deterministic for the
 * state of rng; for given options always consumes the same number of draws, so per-image
 * generators stay in step (the light policy draws exactly what it always did).
 */
export function augmentImage(
  src: Float32Array,
  size: number,
  rng: Rng,
  opts?: AugmentOptions,
): Float32Array {
  const resolved = resolveAugmentOptions(opts);
  if (resolved.none) {
    if (src.length !== size * size) {
      throw new RangeError(`image has ${src.length} values, expected ${size}x${size}`);
    }
    return Float32Array.from(src);
  }
  const params = drawAugmentParams(size, rng, resolved);
  const fill =
    resolved.blackFillProbability > 0 && rng.next() < resolved.blackFillProbability
      ? 'black'
      : resolved.fill;
  const out = applyAugment(src, size, params, fill);
  if (appearanceEnabled(resolved))
    applyAppearance(out, size, drawAppearanceParams(size, rng, resolved));
  return out;
}
