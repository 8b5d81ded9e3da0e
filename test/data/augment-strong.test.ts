import { describe, expect, it } from 'vitest';
import {
  AUGMENT_POLICIES,
  applyAugment,
  augmentImage,
  drawAugmentParams,
  resolveAugmentOptions,
} from '../../shared/data/augment.ts';
import {
  applyAppearance,
  drawAppearanceParams,
  type AppearanceParams,
} from '../../shared/data/augment-appearance.ts';
import { createRng } from '../../shared/util/random.ts';

const SIZE = 32;
const NOTHING: AppearanceParams = {
  gamma: 1,
  blur: false,
  noiseStd: 0,
  noiseSeed: 1,
  cutout: null,
};

function image(seed = 3): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: SIZE * SIZE }, (_, i) => Math.cos(i / 5) + rng.normal() * 0.2);
}

function meanStd(img: Float32Array): { mean: number; std: number } {
  const mean = img.reduce((s, v) => s + v, 0) / img.length;
  const variance = img.reduce((s, v) => s + (v - mean) ** 2, 0) / img.length;
  return { mean, std: Math.sqrt(variance) };
}

describe('augmentation policies', () => {
  const src = image();

  it('light draws exactly what the engine always drew (old models stay reproducible)', () => {
    const viaPolicy = augmentImage(src, SIZE, createRng(9), AUGMENT_POLICIES.light);
    const rng = createRng(9);
    const legacy = applyAugment(src, SIZE, drawAugmentParams(SIZE, rng, resolveAugmentOptions()));
    expect(viaPolicy).toEqual(legacy);
  });

  it('strong is deterministic for a seed, finite, and unlike light', () => {
    const a = augmentImage(src, SIZE, createRng(4), AUGMENT_POLICIES.strong);
    const b = augmentImage(src, SIZE, createRng(4), AUGMENT_POLICIES.strong);
    const light = augmentImage(src, SIZE, createRng(4), AUGMENT_POLICIES.light);
    expect(a).toEqual(b);
    expect(a.every(Number.isFinite)).toBe(true);
    expect(a).not.toEqual(light);
  });

  it('strong frames about half the images black when zoomed out', () => {
    let framed = 0;
    const n = 200;
    for (let seed = 0; seed < n; seed++) {
      const zoomedOut = { ...AUGMENT_POLICIES.strong, zoom: [0.7, 0.7] as const, shift: 0 };
      const out = augmentImage(src, SIZE, createRng(seed), {
        ...zoomedOut,
        brightness: 0,
        contrast: 0,
        cutoutProbability: 0,
        noise: 0,
        blurProbability: 0,
        gamma: 0,
      });
      if (Math.abs(out[0] - Math.min(...src)) < 1e-6) framed++;
    }
    expect(framed / n).toBeGreaterThan(0.38);
    expect(framed / n).toBeLessThan(0.62);
  });

  it('rejects out-of-range appearance options', () => {
    expect(() => resolveAugmentOptions({ blurProbability: 1.5 })).toThrow(/blurProbability/);
    expect(() => resolveAugmentOptions({ noise: -1 })).toThrow(/noise/);
    expect(() => resolveAugmentOptions({ blackFillProbability: 2 })).toThrow(/blackFill/);
  });
});

describe('applyAugment black fill', () => {
  it('fills outside pixels with the image minimum', () => {
    const src = image();
    const p = { angleRad: 0, shiftX: 0, shiftY: 0, zoom: 0.5, brightness: 0, contrast: 1 };
    const out = applyAugment(src, SIZE, p, 'black');
    const min = Math.min(...src);
    expect(out[0]).toBeCloseTo(min, 6);
    expect(out[SIZE * SIZE - 1]).toBeCloseTo(min, 6);
  });
});

describe('applyAppearance', () => {
  it('does nothing with neutral parameters', () => {
    const img = image();
    const copy = Float32Array.from(img);
    applyAppearance(img, SIZE, NOTHING);
    expect(img).toEqual(copy);
  });

  it('gamma reshapes the histogram but keeps mean and std', () => {
    const img = image();
    const before = meanStd(img);
    applyAppearance(img, SIZE, { ...NOTHING, gamma: 0.5 });
    const after = meanStd(img);
    expect(after.mean).toBeCloseTo(before.mean, 4);
    expect(after.std).toBeCloseTo(before.std, 4);
    expect(img).not.toEqual(image());
  });

  it('blur lowers the pixel-to-pixel variation; noise raises the std by about its size', () => {
    const rough = (img: Float32Array): number =>
      img.slice(1).reduce((s, v, i) => s + Math.abs(v - img[i]), 0) / img.length;
    const blurred = image();
    applyAppearance(blurred, SIZE, { ...NOTHING, blur: true });
    expect(rough(blurred)).toBeLessThan(rough(image()) * 0.8);

    const flat = new Float32Array(SIZE * SIZE).map((_, i) => (i % 2 ? 1 : -1));
    applyAppearance(flat, SIZE, { ...NOTHING, noiseStd: 0.5, noiseSeed: 7 });
    expect(meanStd(flat).std).toBeCloseTo(Math.sqrt(1 + 0.25), 1);
  });

  it('cutout fills its rectangle with the image mean and nothing else', () => {
    const img = image();
    const { mean } = meanStd(img);
    applyAppearance(img, SIZE, { ...NOTHING, cutout: [4, 6, 10, 9] });
    const orig = image();
    for (let y = 0; y < SIZE; y++)
      for (let x = 0; x < SIZE; x++) {
        const inside = x >= 4 && x < 10 && y >= 6 && y < 9;
        expect(img[y * SIZE + x]).toBeCloseTo(inside ? mean : orig[y * SIZE + x], 5);
      }
  });

  it('draws a cutout inside the image and at most cutoutSize per side', () => {
    for (let seed = 0; seed < 50; seed++) {
      const p = drawAppearanceParams(SIZE, createRng(seed), {
        gamma: 0.5,
        blurProbability: 0.5,
        noise: 0.1,
        cutoutProbability: 1,
        cutoutSize: 0.25,
      });
      expect(p.cutout).not.toBeNull();
      const [x0, y0, x1, y1] = p.cutout ?? [0, 0, 0, 0];
      expect(x0).toBeGreaterThanOrEqual(0);
      expect(y1).toBeLessThanOrEqual(SIZE);
      expect(x1 - x0).toBeLessThanOrEqual(Math.round(0.25 * SIZE));
      expect(y1 - y0).toBeGreaterThan(0);
      expect(p.gamma).toBeGreaterThan(Math.exp(-0.5) - 1e-9);
    }
  });
});
