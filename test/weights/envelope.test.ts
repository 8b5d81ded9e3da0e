import { describe, expect, it } from 'vitest';
import {
  decodeWeights,
  encodeWeights,
  packWeights,
  unpackWeights,
  WeightsFormatError,
} from '../../shared/weights/index.ts';

describe('packed weights (one body: manifest + blob)', () => {
  const weights = [
    { name: 'a/kernel', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
    { name: 'a/bias', shape: [3], data: Float32Array.from([-1, 0.5, 1e-3]) },
  ];

  it('round-trips', () => {
    const { manifest, blob } = encodeWeights(weights, { meta: { round: 3 } });
    const unpacked = unpackWeights(packWeights(manifest, blob));
    expect(unpacked.manifest).toEqual(manifest);
    expect(decodeWeights(unpacked.manifest, unpacked.blob).map((w) => Array.from(w.data))).toEqual(
      weights.map((w) => Array.from(w.data)),
    );
  });

  it('rejects garbage, truncation and a corrupted blob with a named error', () => {
    const { manifest, blob } = encodeWeights(weights);
    const packed = packWeights(manifest, blob);
    expect(() => unpackWeights(Buffer.from('hello world'))).toThrow(/bad magic/);
    expect(() => unpackWeights(packed.subarray(0, 20))).toThrow(WeightsFormatError);
    const corrupted = Buffer.from(packed);
    corrupted[corrupted.length - 1] ^= 0xff;
    const u = unpackWeights(corrupted);
    expect(() => decodeWeights(u.manifest, u.blob)).toThrow(/checksum|sha256/i);
  });
});
