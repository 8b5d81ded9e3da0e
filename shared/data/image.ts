/**
 * Decoding of one chest X-ray file into the float pixels the model sees.
 *
 * Pipeline (sharp / libvips, runs on the libuv thread pool): JPEG or PNG of any size and
 * colour type -> honour EXIF orientation -> flatten alpha onto black -> grayscale -> plain
 * resize to size x size (fit 'fill', Lanczos-3, aspect ratio NOT kept: that is how the
 * training set was made) -> optional CLAHE -> 8-bit -> float normalisation. A DICOM Part 10
 * file (found by its 'DICM' magic, not its name) is first turned into 8-bit gray by dicom.ts
 * and then takes the same path from the resize on.
 */
import { readFile } from 'node:fs/promises';
import sharp, { type Metadata, type OutputInfo, type Sharp, type SharpOptions } from 'sharp';
import { decodeDicom, isDicom, readDicomSummary, type DicomSummary } from './dicom.ts';
import { ImageDecodeError, MAX_IMAGE_PIXELS, MIN_IMAGE_SIDE } from './image-errors.ts';

export {
  IMAGE_DECODE_STATUS,
  ImageDecodeError,
  MAX_IMAGE_PIXELS,
  MIN_IMAGE_SIDE,
} from './image-errors.ts';
export type { ImageDecodeErrorCode } from './image-errors.ts';

export type Normalization = 'per-image' | 'unit';

export const DEFAULT_NORMALIZATION: Normalization = 'per-image';

/**
 * What each normalisation does. 'per-image' is the default: radiographs from different
 * scanners and exposures differ mostly by an affine change of intensity, which a per-image
 * z-score removes, and the shifted test distribution of this dataset is where that matters.
 */
export const NORMALIZATION_DESCRIPTIONS: Readonly<Record<Normalization, string>> = {
  'per-image':
    'x = (v - mean(v)) / (std(v) + 1e-6) over the pixels of the one image (8-bit values v): ' +
    'mean 0 and std 1 per image, removing exposure and scanner brightness/contrast differences',
  unit: 'x = v / 255 (8-bit values v): values in [0, 1], the raw intensities kept',
};

/** Added to the std so a constant image maps to zeros instead of dividing by 0. */
export const PER_IMAGE_EPSILON = 1e-6;

/**
 * What `equalize: true` does: CLAHE (contrast-limited adaptive histogram equalisation,
 * sharp's `clahe`) on the resized image, an 8 x 8 grid of tiles, max slope 3 (the usual
 * OpenCV-like setting). CLAHE rather than sharp's `normalise`: `normalise` is a global linear
 * stretch, which the per-image z-score would undo, while CLAHE equalises local contrast.
 */
export const EQUALIZATION_DESCRIPTION =
  'CLAHE after resizing: tiles of size/8 x size/8 pixels (8 x 8 grid), maxSlope 3';
const CLAHE_GRID = 8;
const CLAHE_MAX_SLOPE = 3;

export interface DecodeOptions {
  /** Output width and height in pixels. */
  size: number;
  /** Default 'per-image'. */
  normalization?: Normalization;
  /** Apply CLAHE before normalising (see EQUALIZATION_DESCRIPTION). Default false. */
  equalize?: boolean;
}

export type SupportedFormat = 'jpeg' | 'png' | 'dicom';

export interface ImageInfo {
  format: SupportedFormat;
  /** Width and height as displayed (after EXIF orientation). */
  width: number;
  height: number;
  /** Channels as stored: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (or CMYK). */
  channels: number;
}

/** Well-known signatures of formats we reject by name, for a clearer message than 'corrupt'. */
const OTHER_FORMATS: ReadonlyArray<{ name: string; test: (b: Buffer) => boolean }> = [
  { name: 'GIF', test: (b) => b.subarray(0, 4).toString('latin1') === 'GIF8' },
  {
    name: 'WebP',
    test: (b) =>
      b.subarray(0, 4).toString('latin1') === 'RIFF' &&
      b.subarray(8, 12).toString('latin1') === 'WEBP',
  },
  {
    name: 'TIFF',
    test: (b) => {
      const s = b.subarray(0, 4).toString('latin1');
      return s === 'II*\0' || s === 'MM\0*';
    },
  },
  { name: 'BMP', test: (b) => b.subarray(0, 2).toString('latin1') === 'BM' && b.length > 26 },
  { name: 'HEIF/AVIF', test: (b) => b.subarray(4, 8).toString('latin1') === 'ftyp' },
  {
    name: 'JPEG 2000',
    test: (b) => b.subarray(0, 4).equals(Buffer.from([0x00, 0x00, 0x00, 0x0c])),
  },
  {
    name: 'SVG',
    test: (b) => /^\s*(<\?xml|<svg)/i.test(b.subarray(0, 64).toString('latin1')),
  },
];

function sniffFormat(bytes: Buffer): SupportedFormat | { other: string } | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return 'jpeg';
  }
  if (
    bytes.length >= 8 &&
    bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
  ) {
    return 'png';
  }
  if (isDicom(bytes)) return 'dicom';
  const other = OTHER_FORMATS.find((f) => f.test(bytes));
  return other ? { other: other.name } : null;
}

function label(source: string | undefined): string {
  return source === undefined ? 'image' : `image ${source}`;
}

async function toBytes(input: Buffer | string): Promise<{ bytes: Buffer; source?: string }> {
  if (typeof input !== 'string') return { bytes: input };
  return { bytes: await readFile(input), source: input };
}

/** 'error' also rejects truncated files (sharp's levels: none < truncated < error < warning). */
const SHARP_INPUT: SharpOptions = {
  failOn: 'error',
  limitInputPixels: MAX_IMAGE_PIXELS,
  autoOrient: true,
};

function sharpFailure(err: unknown, source: string | undefined, format: string): ImageDecodeError {
  const detail = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(detail)) {
    return new ImageDecodeError(
      'too-large',
      `${label(source)} exceeds ${MAX_IMAGE_PIXELS} pixels (${detail})`,
      { cause: err },
    );
  }
  return new ImageDecodeError(
    'corrupt',
    `${label(source)} is a corrupt or truncated ${format.toUpperCase()} file: ${detail}`,
    { cause: err },
  );
}

async function inspect(bytes: Buffer, source: string | undefined): Promise<ImageInfo> {
  if (bytes.length === 0) {
    throw new ImageDecodeError('empty', `${label(source)} is empty (0 bytes)`);
  }
  const sniffed = sniffFormat(bytes);
  if (sniffed === null) {
    throw new ImageDecodeError(
      'corrupt',
      `${label(source)} is not an image: no JPEG, PNG or DICOM signature in its first bytes`,
    );
  }
  if (typeof sniffed !== 'string') {
    throw new ImageDecodeError(
      'unsupported-format',
      `${label(source)} is ${sniffed.other}; only JPEG, PNG and DICOM are supported`,
    );
  }
  if (sniffed === 'dicom') {
    const { rows, columns } = readDicomSummary(bytes, source);
    return { format: 'dicom', width: columns, height: rows, channels: 1 };
  }
  let meta: Metadata;
  try {
    meta = await sharp(bytes, SHARP_INPUT).metadata();
  } catch (err) {
    throw sharpFailure(err, source, sniffed);
  }
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!(width > 0 && height > 0)) {
    throw new ImageDecodeError('corrupt', `${label(source)} has no valid dimensions`);
  }
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new ImageDecodeError(
      'too-large',
      `${label(source)} is ${width}x${height} = ${width * height} pixels; the limit is ${MAX_IMAGE_PIXELS}`,
    );
  }
  if (width < MIN_IMAGE_SIDE || height < MIN_IMAGE_SIDE) {
    throw new ImageDecodeError(
      'too-small',
      `${label(source)} is ${width}x${height}; at least ${MIN_IMAGE_SIDE}x${MIN_IMAGE_SIDE} is required`,
    );
  }
  return { format: sniffed, width, height, channels: meta.channels };
}

/** Validates an image from its header only (no pixel decoding) and reports its format and size. */
export async function readImageInfo(input: Buffer | string): Promise<ImageInfo> {
  const { bytes, source } = await toBytes(input);
  return inspect(bytes, source);
}

/** A decoded image, with the DICOM summary when the input was a DICOM file. */
export interface DecodedGray8 {
  pixels: Uint8Array;
  dicom?: DicomSummary;
}

/** The gray image, before resizing, as a sharp pipeline. */
async function openGray(
  bytes: Buffer,
  source: string | undefined,
): Promise<{ pipeline: Sharp; format: SupportedFormat; dicom?: DicomSummary }> {
  if (isDicom(bytes)) {
    const { data, width, height, summary } = await decodeDicom(bytes, source);
    const pipeline = sharp(data, {
      raw: { width, height, channels: 1 },
      ...SHARP_INPUT,
    }).greyscale();
    return { pipeline, format: 'dicom', dicom: summary };
  }
  const info = await inspect(bytes, source);
  const pipeline = sharp(bytes, SHARP_INPUT).flatten({ background: '#000000' }).greyscale();
  return { pipeline, format: info.format };
}

/** Decodes to 8-bit grayscale, size x size, row-major (no normalisation). */
export async function decodeGray8(
  input: Buffer | string,
  opts: { size: number; equalize?: boolean },
): Promise<Uint8Array> {
  return (await decodeGray8Image(input, opts)).pixels;
}

/** decodeGray8, also telling what the DICOM header says about the image when it is one. */
export async function decodeGray8Image(
  input: Buffer | string,
  opts: { size: number; equalize?: boolean },
): Promise<DecodedGray8> {
  const { size } = opts;
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`size must be a positive integer, got ${size}`);
  }
  const { bytes, source } = await toBytes(input);
  const opened = await openGray(bytes, source);
  let pipeline = opened.pipeline.resize(size, size, { fit: 'fill', kernel: 'lanczos3' });
  if (opts.equalize) {
    const tile = Math.max(1, Math.round(size / CLAHE_GRID));
    pipeline = pipeline.clahe({ width: tile, height: tile, maxSlope: CLAHE_MAX_SLOPE });
  }
  let out: { data: Buffer; info: OutputInfo };
  try {
    out = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw sharpFailure(err, source, opened.format);
  }
  if (out.info.channels !== 1 || out.data.length !== size * size) {
    throw new ImageDecodeError(
      'corrupt',
      `${label(source)} decoded to ${out.info.width}x${out.info.height}x${out.info.channels}, expected ${size}x${size}x1`,
    );
  }
  const pixels = new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.length);
  return opened.dicom ? { pixels, dicom: opened.dicom } : { pixels };
}

/** Normalises 8-bit pixels to floats (see NORMALIZATION_DESCRIPTIONS). */
export function normalizePixels(
  pixels: Uint8Array,
  normalization: Normalization = DEFAULT_NORMALIZATION,
): Float32Array {
  const out = new Float32Array(pixels.length);
  if (normalization === 'unit') {
    for (let i = 0; i < pixels.length; i++) out[i] = pixels[i] / 255;
    return out;
  }
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < pixels.length; i++) {
    sum += pixels[i];
    sumSq += pixels[i] * pixels[i];
  }
  const n = Math.max(pixels.length, 1);
  const mean = sum / n;
  const std = Math.sqrt(Math.max(sumSq / n - mean * mean, 0));
  const scale = 1 / (std + PER_IMAGE_EPSILON);
  for (let i = 0; i < pixels.length; i++) out[i] = (pixels[i] - mean) * scale;
  return out;
}

/**
 * Decodes a JPEG, PNG or DICOM file (path or bytes) to size*size floats, row-major, one
 * channel. Throws ImageDecodeError for empty, corrupt, truncated, other formats, too small
 * (< 32 px a side) or too large (> 50 megapixels) input, and DICOM files it cannot decode.
 */
export async function decodeXray(
  input: Buffer | string,
  opts: DecodeOptions,
): Promise<Float32Array> {
  return (await decodeXrayImage(input, opts)).pixels;
}

/** decodeXray, also telling what the DICOM header says about the image when it is one. */
export async function decodeXrayImage(
  input: Buffer | string,
  opts: DecodeOptions,
): Promise<{ pixels: Float32Array; dicom?: DicomSummary }> {
  const { pixels, dicom } = await decodeGray8Image(input, opts);
  const normalized = normalizePixels(pixels, opts.normalization ?? DEFAULT_NORMALIZATION);
  return dicom ? { pixels: normalized, dicom } : { pixels: normalized };
}
