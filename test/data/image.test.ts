import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ImageDecodeError,
  decodeGray8,
  decodeXray,
  readImageInfo,
  type ImageDecodeErrorCode,
} from '../../shared/data/image.ts';
import { SAMPLE_DATA_DIR } from '../../shared/data/sample.ts';
import { createRng } from '../../shared/util/random.ts';

const SAMPLE_JPEG = path.join(SAMPLE_DATA_DIR, 'NORMAL', 'IM-0122-0001.jpg');

function noise(width: number, height: number, channels: 1 | 2 | 3 | 4, seed = 1): Buffer {
  const rng = createRng(seed);
  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        // A gradient plus noise, alpha (last channel of 2/4) mostly opaque.
        const isAlpha = (channels === 2 || channels === 4) && c === channels - 1;
        data[(y * width + x) * channels + c] = isAlpha
          ? 200 + rng.int(56)
          : Math.min(255, Math.floor((x / width) * 180 + rng.int(60) + c * 10));
      }
    }
  }
  return data;
}

function raw(width: number, height: number, channels: 1 | 2 | 3 | 4, seed = 1): Sharp {
  return sharp(noise(width, height, channels, seed), { raw: { width, height, channels } });
}

function stats(values: Float32Array): { mean: number; std: number } {
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  let sq = 0;
  for (const v of values) sq += (v - mean) ** 2;
  return { mean, std: Math.sqrt(sq / values.length) };
}

async function codeOf(input: Buffer | string): Promise<ImageDecodeErrorCode | 'none'> {
  try {
    await decodeXray(input, { size: 32 });
    return 'none';
  } catch (err) {
    expect(err).toBeInstanceOf(ImageDecodeError);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message.length).toBeGreaterThan(10);
    return (err as ImageDecodeError).code;
  }
}

/** A valid PNG whose IHDR claims other dimensions (CRC fixed), as a decompression bomb would. */
function withPngDimensions(png: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(png);
  out.writeUInt32BE(width, 16);
  out.writeUInt32BE(height, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)), 29);
  return out;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fedxray-image-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('decodeXray', () => {
  it('decodes a real grayscale JPEG to size*size values with mean 0 and std 1', async () => {
    const x = await decodeXray(SAMPLE_JPEG, { size: 64 });
    expect(x).toBeInstanceOf(Float32Array);
    expect(x.length).toBe(64 * 64);
    const { mean, std } = stats(x);
    expect(Math.abs(mean)).toBeLessThan(1e-4);
    expect(std).toBeCloseTo(1, 3);
  });

  it('gives the same values from a path and from its bytes', async () => {
    const fromPath = await decodeXray(SAMPLE_JPEG, { size: 48 });
    const fromBytes = await decodeXray(await readFile(SAMPLE_JPEG), { size: 48 });
    expect(fromBytes).toEqual(fromPath);
  });

  it.each([
    ['gray PNG 300x200', () => raw(300, 200, 1).png().toBuffer()],
    ['gray+alpha PNG 40x90', () => raw(40, 90, 2).png().toBuffer()],
    ['RGB PNG 123x77', () => raw(123, 77, 3).png().toBuffer()],
    ['RGBA PNG 513x257', () => raw(513, 257, 4).png().toBuffer()],
    ['RGB JPEG 99x101', () => raw(99, 101, 3).jpeg().toBuffer()],
    ['16-bit PNG 64x64', () => raw(64, 64, 1).toColourspace('grey16').png().toBuffer()],
    ['progressive JPEG 1000x800', () => raw(1000, 800, 1).jpeg({ progressive: true }).toBuffer()],
  ])('decodes %s to size*size standardised values', async (_name, make) => {
    const bytes = await make();
    for (const size of [32, 57]) {
      const x = await decodeXray(bytes, { size });
      expect(x.length).toBe(size * size);
      const { mean, std } = stats(x);
      expect(Math.abs(mean)).toBeLessThan(1e-4);
      expect(std).toBeCloseTo(1, 3);
    }
  });

  it("'unit' normalisation is the 8-bit value / 255", async () => {
    const gray = await decodeGray8(SAMPLE_JPEG, { size: 32 });
    const unit = await decodeXray(SAMPLE_JPEG, { size: 32, normalization: 'unit' });
    expect(unit.length).toBe(32 * 32);
    for (let i = 0; i < unit.length; i++) expect(unit[i]).toBeCloseTo(gray[i] / 255, 6);
    expect(Math.min(...unit)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...unit)).toBeLessThanOrEqual(1);
  });

  it('per-image normalisation removes an exposure change', async () => {
    const base = noise(64, 64, 1, 7);
    const darker = Buffer.from(base.map((v) => Math.round(40 + v * 0.6)));
    const a = await decodeXray(
      await sharp(base, { raw: { width: 64, height: 64, channels: 1 } })
        .png()
        .toBuffer(),
      { size: 64 },
    );
    const b = await decodeXray(
      await sharp(darker, { raw: { width: 64, height: 64, channels: 1 } })
        .png()
        .toBuffer(),
      { size: 64 },
    );
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    expect(maxDiff).toBeLessThan(0.05);
  });

  it('maps a constant image to zeros, not NaN', async () => {
    const flat = await sharp({
      create: { width: 40, height: 40, channels: 3, background: '#808080' },
    })
      .png()
      .toBuffer();
    const x = await decodeXray(flat, { size: 16 });
    expect(x.every((v) => v === 0)).toBe(true);
  });

  it('equalize (CLAHE) changes the pixels and keeps them standardised', async () => {
    const plain = await decodeGray8(SAMPLE_JPEG, { size: 64 });
    const equalized = await decodeGray8(SAMPLE_JPEG, { size: 64, equalize: true });
    let changed = 0;
    for (let i = 0; i < plain.length; i++) if (plain[i] !== equalized[i]) changed++;
    expect(changed).toBeGreaterThan(plain.length / 2);
    const { mean, std } = stats(await decodeXray(SAMPLE_JPEG, { size: 64, equalize: true }));
    expect(Math.abs(mean)).toBeLessThan(1e-4);
    expect(std).toBeCloseTo(1, 3);
  });

  it('rejects a non-integer size', async () => {
    await expect(decodeXray(SAMPLE_JPEG, { size: 0 })).rejects.toThrow(RangeError);
    await expect(decodeXray(SAMPLE_JPEG, { size: 12.5 })).rejects.toThrow(RangeError);
  });
});

describe('ImageDecodeError codes', () => {
  it("zero bytes -> 'empty' (buffer and file)", async () => {
    expect(await codeOf(Buffer.alloc(0))).toBe('empty');
    const file = path.join(dir, 'empty.jpg');
    await writeFile(file, Buffer.alloc(0));
    expect(await codeOf(file)).toBe('empty');
    await expect(decodeXray(file, { size: 32 })).rejects.toThrow(/empty\.jpg.*0 bytes/);
  });

  it("random bytes and text -> 'corrupt'", async () => {
    const rng = createRng(3);
    const bytes = Buffer.from(Array.from({ length: 4096 }, () => rng.int(256)));
    expect(await codeOf(bytes)).toBe('corrupt');
    expect(await codeOf(Buffer.from('path,label\nNORMAL/a.jpg,NORMAL\n'))).toBe('corrupt');
  });

  it("a truncated JPEG or PNG -> 'corrupt'", async () => {
    const jpeg = await readFile(SAMPLE_JPEG);
    expect(await codeOf(jpeg.subarray(0, Math.floor(jpeg.length / 2)))).toBe('corrupt');
    expect(await codeOf(jpeg.subarray(0, 200))).toBe('corrupt');
    const png = await raw(200, 200, 1).png().toBuffer();
    expect(await codeOf(png.subarray(0, png.length - 40))).toBe('corrupt');
  });

  it("GIF, WebP and TIFF -> 'unsupported-format'", async () => {
    expect(await codeOf(await raw(64, 64, 3).gif().toBuffer())).toBe('unsupported-format');
    expect(await codeOf(await raw(64, 64, 3).webp().toBuffer())).toBe('unsupported-format');
    expect(await codeOf(await raw(64, 64, 3).tiff().toBuffer())).toBe('unsupported-format');
    await expect(decodeXray(await raw(64, 64, 3).webp().toBuffer(), { size: 32 })).rejects.toThrow(
      /WebP.*JPEG, PNG and DICOM/,
    );
  });

  it("10x10 and 31x200 -> 'too-small'", async () => {
    expect(await codeOf(await raw(10, 10, 1).png().toBuffer())).toBe('too-small');
    expect(await codeOf(await raw(31, 200, 3).jpeg().toBuffer())).toBe('too-small');
    expect(await codeOf(await raw(32, 32, 1).png().toBuffer())).toBe('none');
  });

  it("more than 50 megapixels (header of a decompression bomb) -> 'too-large'", async () => {
    const png = await raw(64, 64, 1).png().toBuffer();
    expect(await codeOf(withPngDimensions(png, 10_000, 10_000))).toBe('too-large');
  });
});

describe('readImageInfo', () => {
  it('reports format and dimensions without decoding', async () => {
    expect(await readImageInfo(SAMPLE_JPEG)).toEqual({
      format: 'jpeg',
      width: 256,
      height: 256,
      channels: 1,
    });
    const png = await raw(123, 77, 4).png().toBuffer();
    expect(await readImageInfo(png)).toEqual({
      format: 'png',
      width: 123,
      height: 77,
      channels: 4,
    });
  });
});
