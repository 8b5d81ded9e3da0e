/**
 * DICOM grayscale pixel pipeline (PS3.3 C.7.6.3, C.11.1, C.11.2): stored value -> Modality
 * (Rescale Slope/Intercept) -> VOI (VOI LUT, else window, else min-max) -> MONOCHROME1
 * inversion -> 8 bits. Every stored value has at most 16 bits, so the whole chain is folded
 * into one lookup table of at most 65536 entries and each pixel costs one table read.
 */

export type VoiFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';

export type VoiTransform =
  | { kind: 'window'; center: number; width: number; fn: VoiFunction }
  /** A VOI LUT: entry i is the output for modality value first + i; entries have `bits` bits. */
  | { kind: 'lut'; first: number; bits: number; entries: ArrayLike<number> }
  | { kind: 'min-max' };

export interface GrayPixelModule {
  bitsAllocated: 8 | 16;
  bitsStored: number;
  highBit: number;
  /** Pixel Representation 1: stored values are two's complement. */
  signed: boolean;
  /** MONOCHROME1: the minimum value is white. */
  inverted: boolean;
  slope: number;
  intercept: number;
  voi: VoiTransform;
}

/** Reads the stored bits of `count` samples (masked, unsigned) from little/big-endian bytes. */
export function storedBits(
  bytes: Uint8Array,
  count: number,
  pixel: Pick<GrayPixelModule, 'bitsAllocated' | 'bitsStored' | 'highBit'>,
  littleEndian: boolean,
): Uint8Array | Uint16Array {
  const shift = pixel.highBit + 1 - pixel.bitsStored;
  const mask = 2 ** pixel.bitsStored - 1;
  if (pixel.bitsAllocated === 8) {
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) out[i] = (bytes[i] >> shift) & mask;
    return out;
  }
  const out = new Uint16Array(count);
  const [lo, hi] = littleEndian ? [0, 1] : [1, 0];
  for (let i = 0, at = 0; i < count; i++, at += 2) {
    out[i] = (((bytes[at + hi] << 8) | bytes[at + lo]) >> shift) & mask;
  }
  return out;
}

/** The stored value of a masked bit pattern (two's complement when signed). */
function storedValue(bits: number, bitsStored: number, signed: boolean): number {
  return signed && bits >= 2 ** (bitsStored - 1) ? bits - 2 ** bitsStored : bits;
}

/** Output in [0, 1] of a VOI window for modality value x (PS3.3 C.11.2.1.2). */
function applyWindow(x: number, center: number, width: number, fn: VoiFunction): number {
  if (fn === 'SIGMOID') return 1 / (1 + Math.exp((-4 * (x - center)) / width));
  if (fn === 'LINEAR_EXACT') {
    if (x <= center - width / 2) return 0;
    if (x > center + width / 2) return 1;
    return (x - center) / width + 0.5;
  }
  if (x <= center - 0.5 - (width - 1) / 2) return 0;
  if (x > center - 0.5 + (width - 1) / 2) return 1;
  return (x - (center - 0.5)) / (width - 1) + 0.5;
}

function voiOutput(x: number, voi: VoiTransform, range: { min: number; max: number }): number {
  switch (voi.kind) {
    case 'window':
      return applyWindow(x, voi.center, voi.width, voi.fn);
    case 'lut': {
      const n = voi.entries.length;
      const i = Math.min(Math.max(Math.round(x - voi.first), 0), n - 1);
      return voi.entries[i] / (2 ** voi.bits - 1);
    }
    case 'min-max':
      return range.max > range.min ? (x - range.min) / (range.max - range.min) : 0;
  }
}

/**
 * Maps stored bit patterns (from storedBits) to 8-bit gray, 0 black, 255 white, as a viewer
 * shows the image.
 */
export function toGray8(bits: Uint8Array | Uint16Array, pixel: GrayPixelModule): Uint8Array {
  const size = 2 ** pixel.bitsStored;
  const modality = (b: number): number =>
    storedValue(b, pixel.bitsStored, pixel.signed) * pixel.slope + pixel.intercept;
  let range = { min: 0, max: 0 };
  if (pixel.voi.kind === 'min-max') {
    const present = new Uint8Array(size);
    for (let i = 0; i < bits.length; i++) present[bits[i]] = 1;
    let min = Infinity;
    let max = -Infinity;
    for (let b = 0; b < size; b++) {
      if (present[b] === 0) continue;
      const v = modality(b);
      if (v < min) min = v;
      if (v > max) max = v;
    }
    range = { min, max };
  }
  const table = new Uint8Array(size);
  for (let b = 0; b < size; b++) {
    const y = Math.round(voiOutput(modality(b), pixel.voi, range) * 255);
    const clamped = Number.isFinite(y) ? Math.min(Math.max(y, 0), 255) : 0;
    table[b] = pixel.inverted ? 255 - clamped : clamped;
  }
  const out = new Uint8Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}
