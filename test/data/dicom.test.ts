/**
 * The DICOM decoder (shared/data/dicom.ts, dicom-pixels.ts) on files written by
 * test/helpers/dicom.ts from the sample JPEGs: photometric interpretations, bit depths,
 * rescale, window, VOI LUT, every supported transfer syntax, the refusals (415), hostile
 * headers (4xx codes, never another error) and the privacy of its messages.
 */
import { mkdtemp, mkdir, rm, writeFile, copyFile } from 'node:fs/promises';
import { readFileSync, readdirSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDeflateRaw } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDicom, isDicom, readDicomSummary } from '../../shared/data/dicom.ts';
import {
  IMAGE_DECODE_STATUS,
  ImageDecodeError,
  decodeGray8,
  decodeGray8Image,
  decodeXray,
  readImageInfo,
} from '../../shared/data/image.ts';
import { SAMPLE_DATA_DIR } from '../../shared/data/sample.ts';
import { loadLocalData } from '../../services/hospital-node/lib/local-data.ts';
import {
  PATIENT,
  SOP,
  TS,
  grayPixels,
  imagePixelTagValueOffset,
  jpegBaselineFromJpeg,
  monochrome1FromJpeg,
  pixelDataLengthOffset,
  sixteenBitFromJpeg,
  writeDicom,
} from '../helpers/dicom.ts';

const sampleDir = join(SAMPLE_DATA_DIR, 'PNEUMONIA');
const samplePath = join(sampleDir, readdirSync(sampleDir).sort()[0]);
const jpeg = readFileSync(samplePath);
let gray: { data: Uint8Array; width: number; height: number };

beforeAll(async () => {
  gray = await grayPixels(jpeg);
});

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

async function failure(bytes: Buffer): Promise<ImageDecodeError> {
  const error = await decodeDicom(bytes).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImageDecodeError);
  return error as ImageDecodeError;
}

function expectNoPatientData(text: string): void {
  for (const value of Object.values(PATIENT)) expect(text).not.toContain(value);
  expect(text).not.toContain('Doe');
}

/** A 64 x 64 ramp: value = x + y (0..126). */
function ramp(side = 64): number[] {
  const out: number[] = [];
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) out.push(x + y);
  return out;
}

describe('isDicom', () => {
  it("finds 'DICM' at byte 128 only", () => {
    expect(isDicom(writeDicom({ rows: 32, columns: 32 }))).toBe(true);
    expect(isDicom(jpeg)).toBe(false);
    expect(isDicom(Buffer.concat([Buffer.from('DICM'), Buffer.alloc(200)]))).toBe(false);
    expect(isDicom(Buffer.alloc(131))).toBe(false);
  });
});

describe('decodeDicom: pixels as a viewer shows them', () => {
  it('MONOCHROME1 (inverted) gives back the JPEG it was made from, pixel for pixel', async () => {
    const out = await decodeDicom(await monochrome1FromJpeg(jpeg));
    expect([out.width, out.height]).toEqual([gray.width, gray.height]);
    expect(maxDiff(out.data, gray.data)).toBe(0);
  });

  it('16 bits (12 stored) with rescale and window gives the same 8-bit image', async () => {
    for (const transferSyntax of [TS.explicitLE, TS.implicitLE, TS.explicitBE, TS.deflatedLE]) {
      const out = await decodeDicom(await sixteenBitFromJpeg(jpeg, { transferSyntax }));
      expect(maxDiff(out.data, gray.data), transferSyntax).toBe(0);
    }
  });

  it('JPEG Baseline: the encapsulated frame is decoded with sharp', async () => {
    const out = await decodeDicom(
      await jpegBaselineFromJpeg(jpeg, { window: { center: 128, width: 256 } }),
    );
    expect(maxDiff(out.data, gray.data)).toBe(0);
    // MONOCHROME1 applies to a JPEG frame too.
    const inverted = await decodeDicom(
      await jpegBaselineFromJpeg(jpeg, {
        photometric: 'MONOCHROME1',
        window: { center: 128, width: 256 },
      }),
    );
    expect(
      maxDiff(
        inverted.data,
        gray.data.map((v) => 255 - v),
      ),
    ).toBe(0);
  });

  it('MONOCHROME2 without a window stretches min..max to 0..255', async () => {
    const out = await decodeDicom(
      writeDicom({ rows: 64, columns: 64, pixels: ramp().map((v) => v + 50) }),
    );
    expect(out.data[0]).toBe(0);
    expect(out.data[64 * 64 - 1]).toBe(255);
    expect(out.data[63]).toBe(Math.round((63 / 126) * 255));
  });

  it('signed 16-bit values (Pixel Representation 1) are two’s complement', async () => {
    const out = await decodeDicom(
      writeDicom({
        rows: 64,
        columns: 64,
        bitsAllocated: 16,
        bitsStored: 16,
        pixelRepresentation: 1,
        pixels: ramp().map((v) => (v - 63) & 0xffff), // -63..63
      }),
    );
    expect(out.data[0]).toBe(0);
    expect(out.data[64 * 64 - 1]).toBe(255);
    expect(out.data[63]).toBe(128); // value 0, the middle
  });

  it('honours the high bit of bits stored below the top of the word', async () => {
    // 10 bits stored at bits 11..2 (high bit 11), junk in the low 2 bits.
    const pixels = ramp().map((v) => ((v * 8) << 2) | 3);
    const out = await decodeDicom(
      writeDicom({
        rows: 64,
        columns: 64,
        bitsAllocated: 16,
        bitsStored: 10,
        highBit: 11,
        pixels,
        window: { center: 504.5, width: 1008, fn: 'LINEAR_EXACT' },
      }),
    );
    expect(out.data[0]).toBe(0);
    expect(out.data[64 * 64 - 1]).toBe(255);
  });

  it('applies the VOI LUT Sequence before any window', async () => {
    // A LUT that inverts 0..126 onto 12-bit output; the window would do the opposite.
    const entries = Array.from({ length: 127 }, (_, i) => Math.round(((126 - i) / 126) * 4095));
    const out = await decodeDicom(
      writeDicom({
        rows: 64,
        columns: 64,
        pixels: ramp(),
        voiLut: { first: 0, bits: 12, entries },
        window: { center: 63, width: 127 },
      }),
    );
    expect(out.data[0]).toBe(255);
    expect(out.data[64 * 64 - 1]).toBe(0);
  });

  it('SIGMOID window: the center maps to the middle', async () => {
    const out = await decodeDicom(
      writeDicom({
        rows: 64,
        columns: 64,
        pixels: ramp(),
        window: { center: 63, width: 20, fn: 'SIGMOID' },
      }),
    );
    expect(out.data[63]).toBe(128);
    expect(out.data[0]).toBeLessThan(5);
    expect(out.data[64 * 64 - 1]).toBeGreaterThan(250);
  });

  it('reports only modality, view position, rows and columns', async () => {
    const file = writeDicom({ rows: 40, columns: 48, modality: 'DX', viewPosition: 'PA' });
    expect(readDicomSummary(file)).toEqual({
      modality: 'DX',
      viewPosition: 'PA',
      rows: 40,
      columns: 48,
    });
    // Only standard defined terms are reported: not a name pasted there, even one that is a
    // valid code string.
    for (const modality of ['Doe^J', 'DOE JANE']) {
      const summary = readDicomSummary(
        writeDicom({ rows: 40, columns: 48, modality, viewPosition: modality }),
      );
      expect([summary.modality, summary.viewPosition]).toEqual([null, null]);
    }
    expect(await readImageInfo(file)).toEqual({
      format: 'dicom',
      width: 48,
      height: 40,
      channels: 1,
    });
  });
});

describe('decodeDicom: refusals', () => {
  it('JPEG 2000 -> 415 unsupported-transfer-syntax naming the UID', async () => {
    const error = await failure(
      writeDicom({ rows: 64, columns: 64, transferSyntax: TS.jpeg2000, fragments: [jpeg] }),
    );
    expect(error.code).toBe('unsupported-transfer-syntax');
    expect(IMAGE_DECODE_STATUS[error.code]).toBe(415);
    expect(error.message).toContain(TS.jpeg2000);
    expect(error.message).toContain('JPEG 2000');
    expect(error.details).toEqual({ transferSyntaxUid: TS.jpeg2000 });
  });

  it('a transfer syntax that is not a UID is not echoed', async () => {
    const error = await failure(
      writeDicom({ rows: 64, columns: 64, transferSyntax: PATIENT.name }),
    );
    expect(error.code).toBe('unsupported-transfer-syntax');
    expectNoPatientData(error.message + JSON.stringify(error.details));
  });

  it('a non-image SOP class -> 415 unsupported-sop-class naming it', async () => {
    for (const sopClassUid of [SOP.basicTextSr, SOP.encapsulatedPdf]) {
      const error = await failure(writeDicom({ rows: 64, columns: 64, sopClassUid }));
      expect(error.code).toBe('unsupported-sop-class');
      expect(error.message).toContain(sopClassUid);
      expect(error.details).toEqual({ sopClassUid });
    }
  });

  it('no Pixel Data -> 415 no-pixel-data', async () => {
    const error = await failure(writeDicom({ rows: 64, columns: 64, omitPixelData: true }));
    expect(error.code).toBe('no-pixel-data');
    expect(IMAGE_DECODE_STATUS[error.code]).toBe(415);
  });

  it('colour or 32-bit native pixels -> 415 unsupported-pixel-format', async () => {
    const rgb = await failure(
      writeDicom({ rows: 64, columns: 64, photometric: 'RGB', samplesPerPixel: 3 }),
    );
    expect(rgb.code).toBe('unsupported-pixel-format');
    expect(rgb.message).toContain('RGB');
    const named = await failure(writeDicom({ rows: 64, columns: 64, photometric: 'DOE JANE' }));
    expect(named.code).toBe('unsupported-pixel-format');
    expect(named.message).not.toContain('DOE');
    const wide = writeDicom({ rows: 64, columns: 64, bitsAllocated: 16 });
    wide.writeUInt16LE(32, imagePixelTagValueOffset(wide, 0x0100));
    expect((await failure(wide)).code).toBe('unsupported-pixel-format');
  });
});

describe('decodeDicom: hostile files', () => {
  it('huge Rows x Columns -> 413 too-large before any pixel is read', async () => {
    const file = writeDicom({ rows: 64, columns: 64 });
    file.writeUInt16LE(65535, imagePixelTagValueOffset(file, 0x0010));
    file.writeUInt16LE(65535, imagePixelTagValueOffset(file, 0x0011));
    const error = await failure(file);
    expect(error.code).toBe('too-large');
    expect(IMAGE_DECODE_STATUS[error.code]).toBe(413);
  });

  it('too small -> 400 too-small; Rows 0 -> 400 corrupt', async () => {
    expect((await failure(writeDicom({ rows: 16, columns: 64 }))).code).toBe('too-small');
    const zero = writeDicom({ rows: 64, columns: 64 });
    zero.writeUInt16LE(0, imagePixelTagValueOffset(zero, 0x0010));
    expect((await failure(zero)).code).toBe('corrupt');
  });

  it('Pixel Data shorter than Rows x Columns need -> corrupt', async () => {
    const file = writeDicom({ rows: 64, columns: 64 });
    file.writeUInt16LE(128, imagePixelTagValueOffset(file, 0x0010)); // claims twice the rows
    const error = await failure(file);
    expect(error.code).toBe('corrupt');
    expect(error.message).toMatch(/Pixel Data holds 4096 bytes/);
  });

  it('a Pixel Data length that lies past the end of the file -> corrupt', async () => {
    const file = writeDicom({ rows: 64, columns: 64 });
    file.writeUInt32LE(0xfffffff0, pixelDataLengthOffset(file));
    file.writeUInt16LE(128, imagePixelTagValueOffset(file, 0x0010));
    expect((await failure(file)).code).toBe('corrupt');
  });

  it('a file cut anywhere answers a decode error code, never anything else', async () => {
    const files = [
      await sixteenBitFromJpeg(jpeg),
      await sixteenBitFromJpeg(jpeg, { transferSyntax: TS.implicitLE }),
      await sixteenBitFromJpeg(jpeg, { transferSyntax: TS.deflatedLE }),
      await jpegBaselineFromJpeg(jpeg),
      writeDicom({ rows: 64, columns: 64, voiLut: { first: 0, bits: 8, entries: [1, 2, 3] } }),
    ];
    for (const file of files) {
      for (let cut = 132; cut < file.length; cut += Math.max(1, Math.floor(file.length / 97))) {
        const error = await failure(file.subarray(0, cut));
        expect(IMAGE_DECODE_STATUS[error.code]).toBeGreaterThanOrEqual(400);
        expectNoPatientData(error.message);
      }
    }
  });

  it('a deflate bomb is refused as too large once it inflates past the bound', async () => {
    const file = writeDicom({ rows: 64, columns: 64, transferSyntax: TS.deflatedLE });
    const header = file.subarray(0, file.indexOf(Buffer.from('1.2.826.0.1.3680043.8.498.2')) + 28);
    // 120 MB of zeros deflated in 1 MB pieces: about 120 KB, never all in memory here.
    const deflater = createDeflateRaw({ level: 9 });
    const chunks: Buffer[] = [];
    deflater.on('data', (chunk: Buffer) => chunks.push(chunk));
    const zeros = Buffer.alloc(1_000_000);
    for (let i = 0; i < 120; i++) deflater.write(zeros);
    deflater.end();
    await once(deflater, 'end');
    const error = await failure(Buffer.concat([header, ...chunks]));
    expect(error.code).toBe('too-large');
  });
});

describe('DICOM through the image decoder and the hospital loader', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedxray-dicom-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('decodeGray8 resizes a 16-bit DICOM like the JPEG it came from', async () => {
    const file = await sixteenBitFromJpeg(jpeg);
    const fromDicom = await decodeGray8Image(file, { size: 64 });
    expect(fromDicom.dicom).toEqual({
      modality: 'CR',
      viewPosition: null,
      rows: 256,
      columns: 256,
    });
    // The JPEG path may shrink on load; raw gray resized the same way must match exactly.
    const png = await sharp(gray.data, {
      raw: { width: gray.width, height: gray.height, channels: 1 },
    })
      .png()
      .toBuffer();
    const fromGray = await decodeGray8(png, { size: 64 });
    expect(maxDiff(fromDicom.pixels, fromGray)).toBe(0);
    expect(maxDiff(fromDicom.pixels, await decodeGray8(jpeg, { size: 64 }))).toBeLessThanOrEqual(
      16,
    );
  });

  it('the loader takes .dcm files from class folders, decoded by content', async () => {
    const data = join(dir, 'hospital');
    for (const label of ['NORMAL', 'PNEUMONIA']) {
      await mkdir(join(data, label), { recursive: true });
      const from = join(SAMPLE_DATA_DIR, label);
      const [first, second] = readdirSync(from).sort();
      await copyFile(join(from, first), join(data, label, first));
      const source = readFileSync(join(from, second));
      await writeFile(
        join(data, label, second.replace(/\.jpe?g$/, '.dcm')),
        await monochrome1FromJpeg(source),
      );
    }
    const local = await loadLocalData(data, { valFraction: 0, seed: 1 });
    expect(local.counts.all).toEqual({ NORMAL: 2, PNEUMONIA: 2, total: 4 });
    const dcm = [...local.train, ...local.validation].filter((r) => r.path.endsWith('.dcm'));
    expect(dcm).toHaveLength(2);
    for (const record of dcm) {
      const pixels = await decodeXray(record.path, { size: 32 });
      expect(pixels).toHaveLength(32 * 32);
      expect(pixels.every(Number.isFinite)).toBe(true);
    }
  });

  it('a manifest may list .dcm files', async () => {
    const data = join(dir, 'manifest');
    await mkdir(data, { recursive: true });
    await writeFile(join(data, 'a.dcm'), await sixteenBitFromJpeg(jpeg));
    await writeFile(join(data, 'b.dcm'), await jpegBaselineFromJpeg(jpeg));
    await writeFile(
      join(data, 'manifest.csv'),
      'path,label,patient_id\na.dcm,PNEUMONIA,p1\nb.dcm,NORMAL,p2\n',
    );
    const local = await loadLocalData(data, { valFraction: 0, seed: 1 });
    expect(local.counts.all.total).toBe(2);
    const error = await decodeXray(join(data, 'a.dcm'), { size: 32 }).then(() => null);
    expect(error).toBeNull();
  });
});
