import { describe, expect, it } from 'vitest';
import {
  DEFAULT_AUGMENT,
  applyAugment,
  augmentImage,
  drawAugmentParams,
  resolveAugmentOptions,
  type AugmentParams,
} from '../../shared/data/augment.ts';
import { createRng } from '../../shared/util/random.ts';

const SIZE = 48;
const IDENTITY: AugmentParams = {
  angleRad: 0,
  shiftX: 0,
  shiftY: 0,
  zoom: 1,
  brightness: 0,
  contrast: 1,
};

function image(seed = 1): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: SIZE * SIZE }, (_, i) => Math.sin(i / 7) + rng.normal() * 0.3);
}

const at = (img: Float32Array, x: number, y: number): number => img[y * SIZE + x];

describe('augmentImage', () => {
  const src = image();

  it('is deterministic for a seed, differs between seeds, and leaves src untouched', () => {
    const copy = Float32Array.from(src);
    const a = augmentImage(src, SIZE, createRng(5));
    const b = augmentImage(src, SIZE, createRng(5));
    const c = augmentImage(src, SIZE, createRng(6));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a).not.toEqual(src);
    expect(src).toEqual(copy);
  });

  it('always gives size*size finite values, for both fills and extreme settings', () => {
    const rng = createRng(1);
    for (let k = 0; k < 50; k++) {
      for (const fill of ['edge', 'mean'] as const) {
        const out = augmentImage(src, SIZE, rng, {
          fill,
          rotationDeg: 45,
          shift: 0.3,
          zoom: [0.5, 2],
        });
        expect(out.length).toBe(SIZE * SIZE);
        expect(out.every(Number.isFinite)).toBe(true);
      }
    }
  });

  it('returns an identical copy when disabled or with all ranges zero', () => {
    const off = augmentImage(src, SIZE, createRng(1), { none: true });
    expect(off).toEqual(src);
    expect(off).not.toBe(src);
    const zero = augmentImage(src, SIZE, createRng(1), {
      rotationDeg: 0,
      shift: 0,
      zoom: [1, 1],
      brightness: 0,
      contrast: 0,
    });
    expect(zero).toEqual(src);
  });

  it('draws within the documented default ranges', () => {
    const rng = createRng(2);
    const opts = resolveAugmentOptions();
    for (let k = 0; k < 500; k++) {
      const p = drawAugmentParams(SIZE, rng, opts);
      expect(Math.abs(p.angleRad)).toBeLessThanOrEqual((10 * Math.PI) / 180);
      expect(Math.abs(p.shiftX)).toBeLessThanOrEqual(0.08 * SIZE);
      expect(Math.abs(p.shiftY)).toBeLessThanOrEqual(0.08 * SIZE);
      expect(p.zoom).toBeGreaterThanOrEqual(0.9);
      expect(p.zoom).toBeLessThanOrEqual(1.1);
      expect(Math.abs(p.contrast - 1)).toBeLessThanOrEqual(0.1);
    }
    expect(DEFAULT_AUGMENT.none).toBe(false);
    expect(() => resolveAugmentOptions({ zoom: [1.2, 1.1] })).toThrow(RangeError);
  });
});

describe('applyAugment geometry and intensity', () => {
  const src = image(3);

  it('an integer shift moves the pixels; edge fill repeats the border, mean fill uses the mean', () => {
    const edge = applyAugment(src, SIZE, { ...IDENTITY, shiftX: 3, shiftY: -2 }, 'edge');
    for (const [x, y] of [
      [10, 10],
      [40, 5],
      [3, 45],
    ]) {
      expect(at(edge, x, y)).toBeCloseTo(at(src, x - 3, y + 2), 5);
    }
    expect(at(edge, 0, 20)).toBeCloseTo(at(src, 0, 22), 5);
    const mean = src.reduce((a, b) => a + b, 0) / src.length;
    const filled = applyAugment(src, SIZE, { ...IDENTITY, shiftX: 3 }, 'mean');
    expect(at(filled, 1, 20)).toBeCloseTo(mean, 5);
    expect(at(filled, 10, 20)).toBeCloseTo(at(src, 7, 20), 5);
  });

  it('rotates about the centre and never mirrors', () => {
    const quarter = applyAugment(src, SIZE, { ...IDENTITY, angleRad: Math.PI / 2 });
    // A 90 degree turn is a transpose plus a flip; the same image mirrored would differ.
    for (const [x, y] of [
      [5, 9],
      [30, 12],
    ]) {
      expect(at(quarter, x, y)).toBeCloseTo(at(src, y, SIZE - 1 - x), 4);
    }
    const mirrored = Float32Array.from(
      src,
      (_, i) => src[Math.floor(i / SIZE) * SIZE + (SIZE - 1 - (i % SIZE))],
    );
    expect(quarter).not.toEqual(mirrored);
  });

  it('zoom keeps the centre fixed and magnifies', () => {
    const smooth = Float32Array.from(
      { length: SIZE * SIZE },
      (_, i) => (i % SIZE) - (SIZE - 1) / 2,
    );
    const zoomed = applyAugment(smooth, SIZE, { ...IDENTITY, zoom: 2 });
    // x-ramp through the centre: zooming by 2 halves every value's distance from the centre.
    expect(at(zoomed, 40, 10)).toBeCloseTo(at(smooth, 40, 10) / 2, 4);
  });

  it('brightness shifts by a fraction of the std; contrast scales about the mean', () => {
    let sum = 0;
    let sq = 0;
    for (const v of src) sum += v;
    const mean = sum / src.length;
    for (const v of src) sq += (v - mean) ** 2;
    const std = Math.sqrt(sq / src.length);
    const brighter = applyAugment(src, SIZE, { ...IDENTITY, brightness: 0.1 });
    expect(brighter[100] - src[100]).toBeCloseTo(0.1 * std, 4);
    const contrast = applyAugment(src, SIZE, { ...IDENTITY, contrast: 1.1 });
    expect(contrast[100] - mean).toBeCloseTo((src[100] - mean) * 1.1, 4);
  });

  it('rejects an image of the wrong length', () => {
    expect(() => applyAugment(new Float32Array(10), SIZE, IDENTITY)).toThrow(RangeError);
  });
});
