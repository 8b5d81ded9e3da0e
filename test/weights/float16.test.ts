import { describe, expect, it } from 'vitest';
import {
  float16ToFloat32Array,
  float32ToFloat16Array,
  FLOAT16_MAX,
  fromFloat16Bits,
  toFloat16Bits,
} from '../../shared/weights/float16.ts';

describe('float16', () => {
  it('encodes common values', () => {
    expect(toFloat16Bits(0)).toBe(0x0000);
    expect(toFloat16Bits(1)).toBe(0x3c00);
    expect(toFloat16Bits(-2)).toBe(0xc000);
    expect(toFloat16Bits(0.1)).toBe(0x2e66);
    expect(toFloat16Bits(1 / 3)).toBe(0x3555);
  });

  it('handles the top of the range and overflow', () => {
    expect(toFloat16Bits(65504)).toBe(0x7bff);
    expect(fromFloat16Bits(0x7bff)).toBe(FLOAT16_MAX);
    expect(toFloat16Bits(65519)).toBe(0x7bff);
    expect(toFloat16Bits(65520)).toBe(0x7c00); // halfway to 65536, rounds to even = Infinity
    expect(toFloat16Bits(1e6)).toBe(0x7c00);
    expect(toFloat16Bits(-1e6)).toBe(0xfc00);
    expect(toFloat16Bits(Infinity)).toBe(0x7c00);
    expect(toFloat16Bits(-Infinity)).toBe(0xfc00);
    expect(fromFloat16Bits(0x7c00)).toBe(Infinity);
    expect(fromFloat16Bits(0xfc00)).toBe(-Infinity);
  });

  it('handles subnormals and underflow', () => {
    expect(toFloat16Bits(6e-8)).toBe(0x0001);
    expect(fromFloat16Bits(0x0001)).toBe(2 ** -24);
    expect(toFloat16Bits(2 ** -24)).toBe(0x0001);
    expect(toFloat16Bits(2 ** -25)).toBe(0x0000); // tie -> even (zero)
    expect(toFloat16Bits(2 ** -25 * 1.01)).toBe(0x0001);
    expect(toFloat16Bits(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 -> 2
    expect(toFloat16Bits(1e-10)).toBe(0x0000);
    expect(toFloat16Bits(-1e-10)).toBe(0x8000);
    expect(toFloat16Bits(2 ** -14)).toBe(0x0400); // smallest normal
    expect(toFloat16Bits(2 ** -14 - 2 ** -26)).toBe(0x0400); // rounds up out of the subnormals
    expect(toFloat16Bits(1023 * 2 ** -24)).toBe(0x03ff); // largest subnormal
  });

  it('keeps signed zero and NaN', () => {
    expect(toFloat16Bits(-0)).toBe(0x8000);
    expect(Object.is(fromFloat16Bits(0x8000), -0)).toBe(true);
    const nan = toFloat16Bits(NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x03ff).not.toBe(0);
    expect(fromFloat16Bits(nan)).toBeNaN();
    // A float32 NaN whose payload sits only in the low bits must stay NaN.
    const f = new Float32Array(new Uint32Array([0x7f800001]).buffer);
    expect(fromFloat16Bits(float32ToFloat16Array(f)[0])).toBeNaN();
  });

  it('rounds to nearest, ties to even', () => {
    expect(toFloat16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(toFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(toFloat16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    expect(toFloat16Bits(2049)).toBe(toFloat16Bits(2048));
    expect(toFloat16Bits(2051)).toBe(toFloat16Bits(2052));
  });

  it('round-trips every non-NaN half value exactly', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = fromFloat16Bits(h);
      if (Number.isNaN(v)) continue;
      if (toFloat16Bits(v) !== h)
        throw new Error(`0x${h.toString(16)} -> ${v} -> 0x${toFloat16Bits(v).toString(16)}`);
    }
  });

  it('array conversion agrees with the scalar one', () => {
    const values = Float32Array.from([0, -0, 1, -1.5, 65504, 65520, 6e-8, 0.1234, -7.25e-5, NaN]);
    const halves = float32ToFloat16Array(values);
    values.forEach((v, i) => expect(halves[i]).toBe(toFloat16Bits(v)));
    const back = float16ToFloat32Array(halves);
    back.forEach((v, i) => {
      const expected = fromFloat16Bits(halves[i]);
      if (Number.isNaN(expected)) expect(v).toBeNaN();
      else expect(Object.is(v, Math.fround(expected))).toBe(true);
    });
  });
});
