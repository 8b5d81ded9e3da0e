/**
 * IEEE 754 binary16 ("half") conversion, used to halve the size of weight updates on the
 * wire. Encoding rounds to nearest, ties to even; handles subnormals, ±0, ±Infinity and NaN;
 * magnitudes that round above 65504 become ±Infinity. Inputs are taken as float32 values
 * (weights live in Float32Arrays), so a double is first rounded to float32.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Largest finite half value. */
export const FLOAT16_MAX = 65504;

/** Half bits (0..0xffff) of a float32 given by its raw bits. */
function halfBitsFromFloat32Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) {
    // Keep NaN a NaN (quiet bit set) even if its payload lives only in the low bits.
    return mantissa === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mantissa >>> 13);
  }
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Half subnormal: value = m * 2^-24 with m = (1.mantissa * 2^23) >> (14 - e).
    if (e < -10) return sign; // below 2^-25: rounds to (signed) zero
    const full = mantissa | 0x800000;
    const shift = 14 - e;
    let m = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && (m & 1) === 1)) m++;
    return sign | m; // m may carry into 0x400: the smallest normal, which is the right encoding
  }
  let bits = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // The carry of a round-up may ripple into the exponent, up to 0x7c00 = Infinity.
  if (rest > 0x1000 || (rest === 0x1000 && (bits & 1) === 1)) bits++;
  return sign | bits;
}

/** Half bits of `value` (rounded to float32 first). */
export function toFloat16Bits(value: number): number {
  f32[0] = value;
  return halfBitsFromFloat32Bits(u32[0]);
}

/** The number a half bit pattern (0..0xffff) stands for. */
export function fromFloat16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

export function float32ToFloat16Array(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < out.length; i++) out[i] = halfBitsFromFloat32Bits(bits[i]);
  return out;
}

let decodeTable: Float32Array | undefined;

export function float16ToFloat32Array(halves: Uint16Array): Float32Array {
  if (!decodeTable) {
    decodeTable = new Float32Array(0x10000);
    for (let h = 0; h < 0x10000; h++) decodeTable[h] = fromFloat16Bits(h);
  }
  const out = new Float32Array(halves.length);
  for (let i = 0; i < out.length; i++) out[i] = decodeTable[halves[i]];
  return out;
}
