import { describe, expect, it } from 'vitest';
import { decodeWeights, encodeWeights } from '../../shared/weights/codec.ts';
import { WeightsFormatError } from '../../shared/weights/errors.ts';
import { sha256Hex } from '../../shared/weights/sha256.ts';
import type { NamedWeights, WeightsManifest } from '../../shared/weights/types.ts';
import { createRng } from '../../shared/util/random.ts';

function sampleWeights(): NamedWeights[] {
  const rng = createRng(11);
  const fill = (n: number): Float32Array =>
    Float32Array.from({ length: n }, () => rng.normal() * 0.5);
  return [
    { name: 'conv1/kernel', shape: [3, 3, 1, 4], data: fill(36) },
    { name: 'conv1/bias', shape: [4], data: fill(4) },
    { name: 'scalar', shape: [], data: Float32Array.of(3.5) },
    { name: 'empty', shape: [0, 4], data: new Float32Array(0) },
    { name: 'dense/kernel', shape: [4, 1], data: fill(4) },
  ];
}

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WeightsFormatError);
    expect((err as WeightsFormatError).code).toBe(code);
    return;
  }
  throw new Error(`expected WeightsFormatError ${code}`);
}

describe('encodeWeights / decodeWeights', () => {
  it('round-trips float32 exactly with a well-formed manifest', () => {
    const weights = sampleWeights();
    const { manifest, blob } = encodeWeights(weights, { meta: { round: 3, client: 'h1' } });
    expect(manifest).toMatchObject({
      format: 'fedxray-weights',
      version: 1,
      dtype: 'float32',
      byteLength: (36 + 4 + 1 + 0 + 4) * 4,
      meta: { round: 3, client: 'h1' },
    });
    expect(blob.length).toBe(manifest.byteLength);
    expect(manifest.sha256).toBe(sha256Hex(blob));
    expect(manifest.entries.map((e) => [e.name, e.offset, e.byteLength])).toEqual([
      ['conv1/kernel', 0, 144],
      ['conv1/bias', 144, 16],
      ['scalar', 160, 4],
      ['empty', 164, 0],
      ['dense/kernel', 164, 16],
    ]);
    // Little-endian on the wire regardless of host.
    expect(blob.readFloatLE(160)).toBe(3.5);

    const wire = JSON.parse(JSON.stringify(manifest)) as unknown;
    const decoded = decodeWeights(wire, blob);
    expect(decoded).toEqual(weights);
    expect(decoded[0].data).toBeInstanceOf(Float32Array);
  });

  it('omits meta when not given', () => {
    expect('meta' in encodeWeights(sampleWeights()).manifest).toBe(false);
  });

  it('round-trips float16 within 1e-3 relative and halves the size', () => {
    const weights = sampleWeights();
    const { manifest, blob } = encodeWeights(weights, { dtype: 'float16' });
    expect(manifest.dtype).toBe('float16');
    expect(blob.length).toBe(45 * 2);
    const decoded = decodeWeights(manifest, blob);
    decoded.forEach((w, i) => {
      expect(w.shape).toEqual(weights[i].shape);
      w.data.forEach((v, j) => {
        const x = weights[i].data[j];
        expect(Math.abs(v - x)).toBeLessThanOrEqual(1e-3 * Math.abs(x) + 1e-7);
      });
    });
  });

  it('decodes from an unaligned buffer slice', () => {
    const { manifest, blob } = encodeWeights(sampleWeights());
    const padded = Buffer.alloc(blob.length + 3);
    blob.copy(padded, 3);
    expect(decodeWeights(manifest, padded.subarray(3))).toEqual(sampleWeights());
  });

  it('rejects a corrupted blob (checksum-mismatch)', () => {
    const { manifest, blob } = encodeWeights(sampleWeights());
    const corrupt = Buffer.from(blob);
    corrupt[10] ^= 0xff;
    expectCode(() => decodeWeights(manifest, corrupt), 'checksum-mismatch');
  });

  it('rejects a truncated blob (size-mismatch)', () => {
    const { manifest, blob } = encodeWeights(sampleWeights());
    expectCode(() => decodeWeights(manifest, blob.subarray(0, blob.length - 4)), 'size-mismatch');
    expect(() => decodeWeights(manifest, blob.subarray(0, 8))).toThrow(/truncated/);
  });

  it('rejects bad manifests', () => {
    const { manifest, blob } = encodeWeights(sampleWeights());
    const edit = (change: Partial<Record<keyof WeightsManifest, unknown>>): unknown => ({
      ...manifest,
      ...change,
    });
    expectCode(() => decodeWeights(null, blob), 'bad-manifest');
    expectCode(() => decodeWeights(edit({ format: 'other' }), blob), 'bad-manifest');
    expectCode(() => decodeWeights(edit({ version: 2 }), blob), 'unsupported-version');
    expectCode(() => decodeWeights(edit({ dtype: 'int8' }), blob), 'bad-manifest');
    expectCode(() => decodeWeights(edit({ sha256: 'abc' }), blob), 'bad-manifest');
    // Entries that leave a gap / overlap do not tile the blob.
    const shifted = manifest.entries.map((e, i) => (i === 1 ? { ...e, offset: e.offset + 4 } : e));
    expectCode(() => decodeWeights(edit({ entries: shifted }), blob), 'bad-manifest');
    // Entry size disagreeing with its shape.
    const reshaped = manifest.entries.map((e, i) => (i === 1 ? { ...e, shape: [5] } : e));
    expectCode(() => decodeWeights(edit({ entries: reshaped }), blob), 'size-mismatch');
    // Entries not covering the blob.
    expectCode(
      () => decodeWeights(edit({ entries: manifest.entries.slice(0, 2) }), blob),
      'bad-manifest',
    );
    const dup = [...manifest.entries.slice(0, 3), { ...manifest.entries[2], offset: 164 }];
    expectCode(() => decodeWeights(edit({ entries: dup, byteLength: 168 }), blob), 'bad-manifest');
  });

  it('rejects invalid tensors on encode', () => {
    const w = sampleWeights();
    expectCode(() => encodeWeights([{ ...w[0], data: new Float32Array(3) }]), 'size-mismatch');
    expectCode(() => encodeWeights([w[0], w[0]]), 'bad-input');
    expectCode(() => encodeWeights([{ ...w[1], name: '' }]), 'bad-input');
    expectCode(() => encodeWeights([{ ...w[1], shape: [2.5] }]), 'bad-input');
  });

  it('gives error messages naming the problem', () => {
    const { manifest, blob } = encodeWeights(sampleWeights());
    expect(() => decodeWeights(manifest, Buffer.alloc(blob.length))).toThrow(
      /^checksum-mismatch: blob SHA-256 [0-9a-f]{64} does not match/,
    );
  });
});
