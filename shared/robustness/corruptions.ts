/**
 * Graded acquisition changes of a chest X-ray, in the spirit of ImageNet-C (Hendrycks and
 * Dietterich 2019): each corruption has three severities and works on the 8-bit grayscale
 * image at its own resolution, before the model's resize, as a different scanner, exposure,
 * export or burnt-in annotation would. Deterministic for a given generator.
 */
import sharp, { type Sharp } from 'sharp';
import type { Rng } from '../util/random.ts';

export interface GrayImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface Corruption {
  name: string;
  /** What the three severity parameters mean. */
  description: string;
  severities: readonly [number, number, number];
  apply(image: GrayImage, level: number, rng: Rng): Promise<GrayImage> | GrayImage;
}

const clamp8 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

function mapPixels(image: GrayImage, f: (v: number, i: number) => number): GrayImage {
  const data = new Uint8Array(image.data.length);
  for (let i = 0; i < data.length; i++) data[i] = clamp8(f(image.data[i], i));
  return { ...image, data };
}

function mean(image: GrayImage): number {
  let sum = 0;
  for (const v of image.data) sum += v;
  return sum / Math.max(image.data.length, 1);
}

/** A sharp pipeline over the image's raw 8-bit pixels. */
function fromGray(image: GrayImage): Sharp {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 1 } });
}

/** The pipeline's output as one 8-bit gray channel. */
async function toGray(pipeline: Sharp): Promise<GrayImage> {
  const out = await pipeline.greyscale().raw().toBuffer({ resolveWithObject: true });
  const channels = out.info.channels;
  const data = new Uint8Array(out.info.width * out.info.height);
  for (let i = 0; i < data.length; i++) data[i] = out.data[i * channels];
  return { data, width: out.info.width, height: out.info.height };
}

/** A sharp operation on the image that must keep its size. */
async function sameSize(image: GrayImage, pipeline: Sharp): Promise<GrayImage> {
  const result = await toGray(pipeline);
  if (result.width !== image.width || result.height !== image.height)
    throw new Error(`corruption changed the image size to ${result.width}x${result.height}`);
  return result;
}

/**
 * Inverse-mapped bilinear affine transform about the centre: rotation (radians), scale (> 1
 * magnifies), shift (fraction of the side); pixels from outside are `fill`.
 */
function affine(
  image: GrayImage,
  t: { angle?: number; scale?: number; dx?: number; dy?: number; fill?: number },
): GrayImage {
  const { width: w, height: h } = image;
  const cos = Math.cos(t.angle ?? 0);
  const sin = Math.sin(t.angle ?? 0);
  const scale = t.scale ?? 1;
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  const ox = (t.dx ?? 0) * w;
  const oy = (t.dy ?? 0) * h;
  const fill = t.fill ?? 0;
  const data = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const u = (x - cx - ox) / scale;
      const v = (y - cy - oy) / scale;
      const sx = cos * u + sin * v + cx;
      const sy = -sin * u + cos * v + cy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      if (x0 < 0 || y0 < 0 || x0 + 1 >= w || y0 + 1 >= h) {
        data[y * w + x] = fill;
        continue;
      }
      const fx = sx - x0;
      const fy = sy - y0;
      const p = image.data;
      const top = p[y0 * w + x0] * (1 - fx) + p[y0 * w + x0 + 1] * fx;
      const bottom = p[(y0 + 1) * w + x0] * (1 - fx) + p[(y0 + 1) * w + x0 + 1] * fx;
      data[y * w + x] = clamp8(top * (1 - fy) + bottom * fy);
    }
  }
  return { ...image, data };
}

function fillRect(image: GrayImage, x0: number, y0: number, x1: number, y1: number, v: number) {
  for (let y = Math.max(0, y0); y < Math.min(image.height, y1); y++)
    for (let x = Math.max(0, x0); x < Math.min(image.width, x1); x++)
      image.data[y * image.width + x] = v;
}

export const CORRUPTIONS: readonly Corruption[] = [
  {
    name: 'contrast',
    description: 'contrast scaled around the mean by the factor',
    severities: [0.75, 0.55, 0.35],
    apply: (image, factor) => {
      const m = mean(image);
      return mapPixels(image, (v) => m + (v - m) * factor);
    },
  },
  {
    name: 'gamma',
    description: 'gamma curve v = 255 (v / 255)^g (overexposed look for g < 1)',
    severities: [0.7, 0.5, 0.35],
    apply: (image, g) => mapPixels(image, (v) => 255 * (v / 255) ** g),
  },
  {
    name: 'exposure',
    description: 'brightness shift by the value (of 255), darker',
    severities: [-25, -50, -80],
    apply: (image, shift) => mapPixels(image, (v) => v + shift),
  },
  {
    name: 'noise',
    description: 'additive Gaussian noise of this standard deviation (of 255)',
    severities: [8, 16, 28],
    apply: (image, sigma, rng) => mapPixels(image, (v) => v + sigma * rng.normal()),
  },
  {
    name: 'blur',
    description: 'Gaussian blur of this sigma, in pixels of a 256 px side',
    severities: [1, 2, 3.5],
    apply: (image, sigma) =>
      sameSize(image, fromGray(image).blur(Math.max(0.3, (sigma * image.width) / 256))),
  },
  {
    name: 'downsample',
    description: 'resized down by the factor, then back up (bilinear)',
    severities: [2, 4, 6],
    apply: (image, factor) =>
      toGray(
        fromGray(image).resize(Math.max(8, Math.round(image.width / factor)), undefined, {
          kernel: 'linear',
        }),
      ).then((small) =>
        sameSize(
          image,
          fromGray(small).resize(image.width, image.height, { fit: 'fill', kernel: 'linear' }),
        ),
      ),
  },
  {
    name: 'jpeg',
    description: 'saved as JPEG at this quality',
    severities: [30, 15, 6],
    apply: async (image, quality) => {
      const bytes = await fromGray(image).jpeg({ quality }).toBuffer();
      return sameSize(image, sharp(bytes));
    },
  },
  {
    name: 'crop',
    description: 'central crop keeping this fraction of each side, resized back',
    severities: [0.9, 0.8, 0.7],
    apply: (image, keep) => affine(image, { scale: 1 / keep }),
  },
  {
    name: 'zoom-out',
    description: 'shrunk by the factor inside a black field of the original size',
    severities: [0.9, 0.8, 0.7],
    apply: (image, factor) => affine(image, { scale: factor, fill: 0 }),
  },
  {
    name: 'shift',
    description: 'shifted right and down by this fraction of the side (black fill)',
    severities: [0.05, 0.1, 0.15],
    apply: (image, fraction) => affine(image, { dx: fraction, dy: fraction, fill: 0 }),
  },
  {
    name: 'rotation',
    description: 'rotated by this many degrees (black fill)',
    severities: [5, 10, 15],
    apply: (image, degrees) => affine(image, { angle: (degrees * Math.PI) / 180, fill: 0 }),
  },
  {
    name: 'marker',
    description: 'a burnt-in white label block at the top left, this fraction of the side',
    severities: [0.08, 0.14, 0.2],
    apply: (image, fraction) => {
      const out = { ...image, data: image.data.slice() };
      const w = Math.round(image.width * fraction * 1.6);
      const h = Math.round(image.height * fraction * 0.6);
      const m = Math.round(image.width * 0.04);
      fillRect(out, m, m, m + w, m + h, 255);
      // Dark strokes inside the block, like the letters of a label.
      const stroke = Math.max(1, Math.round(h / 6));
      for (let x = m + stroke; x < m + w - stroke; x += 3 * stroke)
        fillRect(out, x, m + stroke, x + stroke, m + h - stroke, 30);
      return out;
    },
  },
  {
    name: 'border',
    description: 'a black frame of this fraction of the side on every edge',
    severities: [0.04, 0.08, 0.12],
    apply: (image, fraction) => {
      const out = { ...image, data: image.data.slice() };
      const b = Math.round(image.width * fraction);
      fillRect(out, 0, 0, image.width, b, 0);
      fillRect(out, 0, image.height - b, image.width, image.height, 0);
      fillRect(out, 0, 0, b, image.height, 0);
      fillRect(out, image.width - b, 0, image.width, image.height, 0);
      return out;
    },
  },
];

export function findCorruption(name: string): Corruption {
  const found = CORRUPTIONS.find((c) => c.name === name);
  if (!found)
    throw new RangeError(
      `unknown corruption ${name} (one of ${CORRUPTIONS.map((c) => c.name).join(', ')})`,
    );
  return found;
}

/** Decodes an image file or bytes to 8-bit grayscale at its own size. */
export async function readGray(input: Buffer | string): Promise<GrayImage> {
  return toGray(sharp(input).rotate().flatten({ background: '#000000' }));
}

/** A lossless PNG of the image, to feed the model's own decoding pipeline. */
export function encodePng(image: GrayImage): Promise<Buffer> {
  return fromGray(image).png({ compressionLevel: 1 }).toBuffer();
}
