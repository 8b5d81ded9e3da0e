/**
 * Malformed uploads thrown at POST /diagnose (app.inject, no sockets): random bytes, truncated,
 * bit-flipped and overwritten JPEGs/PNGs made from the shipped sample, DICOM files made from
 * them (truncated, bit-flipped, lying element lengths, huge Rows x Columns, refused transfer
 * syntaxes and SOP classes), empty files, huge declared dimensions (decompression bombs),
 * tiny images, other formats, broken multipart
 * framing and non-multipart bodies. Every answer must be a documented 4xx JSON error, or 200
 * with a valid diagnosis where the input may still be a valid image; never 500, never a hang;
 * afterwards a valid image still works and tf.memory() is where it was.
 *
 * Reproducible: the cases come from createRng(FUZZ_SEED) (default below; set FUZZ_SEED to try
 * others). FUZZ_REPORT=1 prints the counts by category and status.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import type { LightMyRequestResponse } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { DISCLAIMER } from '../../services/inference-api/schemas/diagnose.ts';
import { SAMPLE_DATA_DIR } from '../../shared/data/sample.ts';
import { tf } from '../../shared/tf/tf.ts';
import { createRng, type Rng } from '../../shared/util/random.ts';
import {
  SOP,
  TS,
  imagePixelTagValueOffset,
  jpegBaselineFromJpeg,
  lengthFieldOffsets,
  monochrome1FromJpeg,
  sixteenBitFromJpeg,
  writeDicom,
} from '../helpers/dicom.ts';
import { writeTinyModelDir } from './fixtures.ts';
import { useInferenceApp } from './test-app.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20260501);
const MAX_UPLOAD_BYTES = 256 * 1024;
/** A request that takes longer than this is a hang. */
const CASE_TIMEOUT_MS = 15_000;
const CONCURRENCY = 4;

/** Every error code POST /diagnose may answer for bad input (docs/inference-api.md), by status. */
const DOCUMENTED_CODES: Readonly<Record<string, number>> = {
  'missing-image': 400,
  empty: 400,
  corrupt: 400,
  'too-small': 400,
  'invalid-multipart': 400,
  'too-many-parts': 400,
  'file-too-large': 413,
  'too-large': 413,
  'unsupported-format': 415,
  'not-multipart': 415,
  'not-dicom': 415,
  'unsupported-transfer-syntax': 415,
  'unsupported-sop-class': 415,
  'no-pixel-data': 415,
  'unsupported-pixel-format': 415,
};

/** What a damaged DICOM file may answer: any DICOM refusal or a decode error. */
const DICOM_CODES = [
  'corrupt',
  'too-small',
  'too-large',
  'unsupported-transfer-syntax',
  'unsupported-sop-class',
  'no-pixel-data',
  'unsupported-pixel-format',
];

interface FuzzCase {
  category: string;
  /** Headers of the request (content-type above all). */
  headers: Record<string, string>;
  payload?: Buffer;
  /** The error codes this input must get; undefined = any documented code. */
  codes?: readonly string[];
  /** The input may be a valid image (or contain one): 200 with a diagnosis is fine. */
  mayDecode?: boolean;
  /** The input holds a valid image where the server looks for it: it must answer 200. */
  mustDecode?: boolean;
}

// ---- building requests ----

interface Part {
  name?: string;
  filename?: string;
  contentType?: string;
  data: Buffer | string;
  /** Replaces the part's headers entirely. */
  rawHeaders?: string;
}

const BOUNDARY = '----fedxrayFuzzBoundary7MA4YWxkTrZu0gW';

function multipartBody(
  parts: readonly Part[],
  options: { boundary?: string; newline?: string; closing?: boolean; preamble?: string } = {},
): Buffer {
  const boundary = options.boundary ?? BOUNDARY;
  const nl = options.newline ?? '\r\n';
  const chunks: Buffer[] = [];
  if (options.preamble !== undefined) chunks.push(Buffer.from(options.preamble + nl));
  for (const part of parts) {
    const headers =
      part.rawHeaders ??
      `Content-Disposition: form-data; name="${part.name ?? 'image'}"` +
        (part.filename === undefined ? '' : `; filename="${part.filename}"`) +
        (part.contentType === undefined ? '' : `${nl}Content-Type: ${part.contentType}`);
    chunks.push(Buffer.from(`--${boundary}${nl}${headers}${nl}${nl}`));
    chunks.push(Buffer.isBuffer(part.data) ? part.data : Buffer.from(part.data));
    chunks.push(Buffer.from(nl));
  }
  if (options.closing !== false) chunks.push(Buffer.from(`--${boundary}--${nl}`));
  return Buffer.concat(chunks);
}

const MULTIPART = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` };

/** A request with `data` as the image file. */
function imageCase(
  category: string,
  data: Buffer,
  expectation: Pick<FuzzCase, 'codes' | 'mayDecode' | 'mustDecode'>,
  part: Partial<Part> = {},
): FuzzCase {
  return {
    category,
    headers: MULTIPART,
    payload: multipartBody([
      { name: 'image', filename: 'xray.jpg', contentType: 'image/jpeg', ...part, data },
    ]),
    ...expectation,
  };
}

// ---- mutations ----

function randomBytes(rng: Rng, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = rng.int(256);
  return out;
}

function truncate(rng: Rng, bytes: Buffer): Buffer {
  return Buffer.from(bytes.subarray(0, 1 + rng.int(bytes.length - 1)));
}

function flipBits(rng: Rng, bytes: Buffer, flips: number, from = 0): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < flips; i++) {
    const at = from + rng.int(out.length - from);
    out[at] ^= 1 << rng.int(8);
  }
  return out;
}

function overwrite(rng: Rng, bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  const length = 1 + rng.int(64);
  const at = rng.int(out.length - length);
  randomBytes(rng, length).copy(out, at);
  return out;
}

/** A PNG whose IHDR claims width x height, with a valid CRC (the pixels need not exist). */
function pngClaiming(png: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(png);
  out.writeUInt32BE(width, 16);
  out.writeUInt32BE(height, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)) >>> 0, 29);
  return out;
}

/** A JPEG whose start-of-frame claims width x height. */
function jpegClaiming(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i + 9 < out.length;) {
    if (out[i] !== 0xff) throw new Error('not a marker');
    const marker = out[i + 1];
    const length = out.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc3) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
    i += 2 + length;
  }
  throw new Error('no start-of-frame marker');
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)];
}

// ---- the corpus ----

interface Sources {
  jpegs: Buffer[];
  pngs: Buffer[];
  /** Real files of formats we refuse by name. */
  others: { name: string; bytes: Buffer }[];
  /** An 8000 x 8000 black PNG: 64 megapixels in about 60 KiB. */
  bomb: Buffer;
  /** Valid DICOM files made from the JPEGs, in every supported transfer syntax. */
  dicoms: Buffer[];
  /** The same, Explicit VR Little Endian with native pixels (for lying lengths). */
  explicitDicoms: Buffer[];
}

async function loadSources(): Promise<Sources> {
  const jpegs: Buffer[] = [];
  for (const label of ['NORMAL', 'PNEUMONIA']) {
    const dir = join(SAMPLE_DATA_DIR, label);
    for (const name of readdirSync(dir).sort().slice(0, 4)) {
      jpegs.push(readFileSync(join(dir, name)));
    }
  }
  const pngs = await Promise.all(
    jpegs.slice(0, 4).map((jpeg, i) =>
      sharp(jpeg)
        .resize(i % 2 === 0 ? 96 : 64)
        .png()
        .toBuffer(),
    ),
  );
  const gray = sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } });
  const others = [
    { name: 'GIF', bytes: await gray.clone().gif().toBuffer() },
    { name: 'WebP', bytes: await gray.clone().webp().toBuffer() },
    { name: 'TIFF', bytes: await gray.clone().tiff().toBuffer() },
    { name: 'TIFF-BE', bytes: Buffer.concat([Buffer.from('MM\0*'), Buffer.alloc(60, 7)]) },
    { name: 'BMP', bytes: bmp(64, 64) },
    {
      name: 'HEIF',
      bytes: Buffer.concat([
        Buffer.from([0, 0, 0, 0x18]),
        Buffer.from('ftypheic'),
        Buffer.alloc(64),
      ]),
    },
    {
      name: 'JPEG2000',
      bytes: Buffer.concat([
        Buffer.from([0, 0, 0, 0x0c]),
        Buffer.from('jP  \r\n\x87\n'),
        Buffer.alloc(64),
      ]),
    },
    { name: 'SVG', bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="64"/>') },
    { name: 'XML-SVG', bytes: Buffer.from('<?xml version="1.0"?><svg width="9000"/>') },
  ];
  const explicitDicoms = [await monochrome1FromJpeg(jpegs[0]), await sixteenBitFromJpeg(jpegs[5])];
  const dicoms = [
    ...explicitDicoms,
    await sixteenBitFromJpeg(jpegs[1], { transferSyntax: TS.implicitLE }),
    await sixteenBitFromJpeg(jpegs[6], { transferSyntax: TS.explicitBE }),
    await monochrome1FromJpeg(jpegs[2], { transferSyntax: TS.deflatedLE }),
    await jpegBaselineFromJpeg(jpegs[7]),
  ];
  return { jpegs, pngs, others, bomb: pngBomb(8000, 8000), dicoms, explicitDicoms };
}

/** A real decompression bomb: a gray PNG of width x height black pixels (a few KiB). */
function pngBomb(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.writeUInt8(8, 8); // bit depth
  ihdr.writeUInt8(0, 9); // grayscale
  // Each row: filter byte 0, then `width` zero pixels.
  const idat = deflateSync(Buffer.alloc((width + 1) * height), { level: 9 });
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A minimal uncompressed 24-bit BMP. */
function bmp(width: number, height: number): Buffer {
  const rowBytes = Math.ceil((width * 3) / 4) * 4;
  const size = 54 + rowBytes * height;
  const out = Buffer.alloc(size, 0x80);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(size, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(24, 28);
  return out;
}

function buildCorpus(rng: Rng, src: Sources, tiny: { png: Buffer[]; jpeg: Buffer[] }): FuzzCase[] {
  const cases: FuzzCase[] = [];
  const add = (n: number, make: () => FuzzCase): void => {
    for (let i = 0; i < n; i++) cases.push(make());
  };
  const jpeg = (): Buffer => pick(rng, src.jpegs);
  const png = (): Buffer => pick(rng, src.pngs);
  const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

  // Not images at all. Random bytes may happen to start like BMP ('BM') and the like, so any
  // documented code is fine; what matters is that none is a 500.
  add(150, () => imageCase('random bytes', randomBytes(rng, 1 + rng.int(20_000)), {}));
  add(50, () =>
    imageCase(
      'random bytes after a JPEG signature',
      Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), randomBytes(rng, rng.int(8_000))]),
      { codes: ['corrupt', 'too-small', 'too-large'] },
    ),
  );
  add(50, () =>
    imageCase(
      'random bytes after a PNG signature',
      Buffer.concat([PNG_MAGIC, randomBytes(rng, rng.int(8_000))]),
      { codes: ['corrupt', 'too-small', 'too-large'] },
    ),
  );

  // Damaged real images.
  add(100, () =>
    imageCase('truncated JPEG', truncate(rng, jpeg()), {
      codes: ['corrupt', 'too-small', 'too-large'],
      mayDecode: true, // a cut just before the end marker can still decode
    }),
  );
  add(150, () =>
    imageCase('bit-flipped JPEG', flipBits(rng, jpeg(), 1 + rng.int(32)), { mayDecode: true }),
  );
  add(40, () => imageCase('overwritten JPEG', overwrite(rng, jpeg()), { mayDecode: true }));
  add(60, () =>
    imageCase('truncated PNG', truncate(rng, png()), {
      codes: ['corrupt', 'too-small', 'too-large'],
      mayDecode: true,
    }),
  );
  add(100, () =>
    imageCase('bit-flipped PNG', flipBits(rng, png(), 1 + rng.int(16)), { mayDecode: true }),
  );
  add(20, () =>
    imageCase('bit-flipped PNG header', flipBits(rng, png(), 1 + rng.int(4), 8), {
      mayDecode: true,
    }),
  );

  // Empty files, however they are announced.
  add(10, () =>
    imageCase(
      'zero bytes',
      Buffer.alloc(0),
      { codes: ['empty'] },
      {
        filename: pick(rng, ['xray.jpg', 'a.png', 'empty', '']),
        contentType: pick(rng, ['image/jpeg', 'image/png', 'application/octet-stream']),
      },
    ),
  );

  // Huge declared dimensions: refused from the header, before any pixel is decoded.
  const hugeSides = (): [number, number] => {
    for (;;) {
      const w = 1 + rng.int(100_000);
      const h = 1 + rng.int(100_000);
      if (w * h > 50_000_000 && w >= 32 && h >= 32) return [w, h];
    }
  };
  cases.push(
    imageCase('huge PNG header', pngClaiming(png(), 100_000, 100_000), { codes: ['too-large'] }),
  );
  cases.push(
    // Over libjpeg's 65500 px a side: refused by the decoder's header check as corrupt.
    imageCase('huge JPEG header over 65500 px a side', jpegClaiming(jpeg(), 65_535, 65_535), {
      codes: ['corrupt', 'too-large'],
    }),
  );
  add(15, () =>
    imageCase('huge PNG header', pngClaiming(png(), ...hugeSides()), { codes: ['too-large'] }),
  );
  add(15, () =>
    imageCase(
      'huge JPEG header',
      // 1000..65500 wide, 50001..65500 high: always over 50 megapixels, within JPEG's limit.
      jpegClaiming(jpeg(), 1000 + rng.int(64_501), 50_001 + rng.int(15_500)),
      { codes: ['too-large'] },
    ),
  );
  add(3, () => imageCase('PNG bomb (8000x8000 real pixels)', src.bomb, { codes: ['too-large'] }));
  // Large but allowed claims with the pixels missing: decoding must fail cleanly.
  add(4, () =>
    imageCase(
      'PNG claiming 2000-7000 px, data missing',
      pngClaiming(png(), 2000 + rng.int(5000), 2000 + rng.int(5000)),
      {
        codes: ['corrupt'],
      },
    ),
  );
  add(4, () =>
    imageCase(
      'JPEG claiming 2000-7000 px, data missing',
      jpegClaiming(jpeg(), 2000 + rng.int(5000), 2000 + rng.int(5000)),
      {
        codes: ['corrupt'],
        mayDecode: true, // libjpeg may pad a short scan with gray (a warning, not an error)
      },
    ),
  );
  add(6, () =>
    imageCase(
      'PNG claiming a 0 or 1 px side',
      pngClaiming(png(), pick(rng, [0, 1, 2]), 1 + rng.int(1000)),
      {
        codes: ['corrupt', 'too-small'],
      },
    ),
  );

  // Tiny images (< 32 px a side).
  add(20, () => imageCase('tiny PNG', pick(rng, tiny.png), { codes: ['too-small'] }));
  add(20, () => imageCase('tiny JPEG', pick(rng, tiny.jpeg), { codes: ['too-small'] }));

  // Other formats: refused by name, whole or followed by junk.
  for (const other of src.others) {
    cases.push(imageCase(`${other.name}`, other.bytes, { codes: ['unsupported-format'] }));
  }
  add(50, () => {
    const other = pick(rng, src.others);
    const bytes =
      rng.next() < 0.5
        ? other.bytes
        : Buffer.concat([other.bytes.subarray(0, 140), randomBytes(rng, rng.int(2000))]);
    return imageCase('other format (GIF/WebP/TIFF/BMP/HEIF/JP2/SVG)', bytes, {
      codes: ['unsupported-format'],
    });
  });

  // A valid image whatever the part says it is: the bytes decide.
  add(20, () =>
    imageCase(
      'valid image, misleading part type or name',
      rng.next() < 0.5 ? jpeg() : png(),
      { mustDecode: true },
      {
        contentType: pick(rng, ['text/plain', 'application/json', 'image/gif', 'x/y', '']),
        filename: pick(rng, [
          'x.gif',
          'notes.txt',
          '../../etc/passwd',
          'ü€😀.png',
          'a'.repeat(300),
        ]),
      },
    ),
  );
  // Too large a file.
  add(10, () =>
    imageCase(
      'file over MAX_UPLOAD_BYTES',
      Buffer.concat([jpeg(), randomBytes(rng, MAX_UPLOAD_BYTES + rng.int(100_000))]),
      { codes: ['file-too-large'] },
    ),
  );

  // Bodies that are not multipart/form-data.
  const validJpeg = src.jpegs[0];
  const notMultipart: [string, Record<string, string>, Buffer | undefined][] = [
    [
      'application/json',
      { 'content-type': 'application/json' },
      Buffer.from('{"image":"aGVsbG8="}'),
    ],
    ['broken JSON', { 'content-type': 'application/json' }, Buffer.from('{"image":')],
    [
      'JSON over 1 MiB',
      { 'content-type': 'application/json' },
      Buffer.from(`{"image":"${'A'.repeat(1_200_000)}"}`),
    ],
    ['raw image/jpeg', { 'content-type': 'image/jpeg' }, validJpeg],
    ['raw image/png', { 'content-type': 'image/png' }, src.pngs[0]],
    ['octet-stream', { 'content-type': 'application/octet-stream' }, validJpeg],
    ['text/plain', { 'content-type': 'text/plain' }, Buffer.from('image=hello')],
    [
      'urlencoded',
      { 'content-type': 'application/x-www-form-urlencoded' },
      Buffer.from('image=abc'),
    ],
    ['no content-type', {}, validJpeg],
    ['no body', {}, undefined],
    ['XML', { 'content-type': 'application/xml' }, Buffer.from('<image/>')],
    ['garbage content-type', { 'content-type': ';;;==/' }, validJpeg],
  ];
  for (const [name, headers, payload] of notMultipart) {
    cases.push({ category: `not multipart: ${name}`, headers, payload, codes: ['not-multipart'] });
  }
  add(30, () => {
    const [, headers, payload] = pick(rng, notMultipart);
    return { category: 'not multipart (repeated)', headers, payload, codes: ['not-multipart'] };
  });

  // Multipart framing gone wrong.
  const good = (): Buffer => (rng.next() < 0.7 ? jpeg() : png());
  const MULTIPART_ERRORS = ['invalid-multipart', 'missing-image', 'not-multipart'];
  add(10, () => ({
    category: 'multipart without boundary',
    headers: {
      'content-type': pick(rng, [
        'multipart/form-data',
        'multipart/form-data; boundary=',
        'multipart/form-data; charset=utf-8',
      ]),
    },
    payload: multipartBody([{ filename: 'x.jpg', data: good() }]),
    codes: MULTIPART_ERRORS,
  }));
  add(10, () => ({
    category: 'multipart with another boundary in the body',
    headers: { 'content-type': 'multipart/form-data; boundary=not-the-one' },
    payload: multipartBody([{ filename: 'x.jpg', data: good() }]),
    codes: MULTIPART_ERRORS,
  }));
  add(10, () => ({
    category: 'multipart/mixed or other multipart type',
    headers: {
      'content-type': `${pick(rng, ['multipart/mixed', 'multipart/related', 'multipart/alternative'])}; boundary=${BOUNDARY}`,
    },
    payload: multipartBody([{ filename: 'x.jpg', data: good() }]),
    codes: [...MULTIPART_ERRORS],
    mayDecode: true,
  }));
  add(10, () => ({
    category: 'multipart boundary over 70 characters',
    headers: { 'content-type': `multipart/form-data; boundary=${'b'.repeat(71 + rng.int(2000))}` },
    payload: multipartBody([{ filename: 'x.jpg', data: good() }], { boundary: 'b'.repeat(71) }),
    codes: MULTIPART_ERRORS,
    mayDecode: true,
  }));
  add(40, () => {
    const body = multipartBody([
      { name: 'note', data: 'hello' },
      { filename: 'x.jpg', contentType: 'image/jpeg', data: good() },
    ]);
    return {
      category: 'multipart cut short',
      headers: MULTIPART,
      payload: truncate(rng, body),
      codes: [...MULTIPART_ERRORS, 'corrupt', 'empty', 'too-small', 'too-large'],
    };
  });
  add(10, () => ({
    category: 'multipart without the closing boundary',
    headers: MULTIPART,
    payload: multipartBody([{ filename: 'x.jpg', data: good() }], { closing: false }),
    codes: MULTIPART_ERRORS,
  }));
  add(10, () => ({
    category: 'multipart with LF line ends',
    headers: MULTIPART,
    payload: multipartBody([{ filename: 'x.jpg', data: good() }], { newline: '\n' }),
    codes: MULTIPART_ERRORS,
    mayDecode: true,
  }));
  // Skipped parts (no or non-form-data Content-Disposition): over 16 KiB these hung busboy
  // for ever before upload.ts raised its high-water mark (PART_HIGH_WATER_MARK).
  add(20, () => ({
    category: 'multipart part without Content-Disposition (1 KB - 200 KB)',
    headers: MULTIPART,
    payload: multipartBody([
      {
        rawHeaders: pick(rng, [
          'Content-Type: image/jpeg',
          'Content-Disposition: attachment; name="image"; filename="x.jpg"',
        ]),
        data: Buffer.concat(Array.from({ length: 1 + rng.int(16) }, good)).subarray(
          0,
          1000 + rng.int(200_000),
        ),
      },
      ...(rng.next() < 0.5 ? [{ filename: 'x.jpg', data: good() }] : []),
    ]),
    codes: MULTIPART_ERRORS,
    mayDecode: true, // when a proper image part follows
  }));
  add(10, () => ({
    category: 'fields named like Object.prototype members',
    headers: MULTIPART,
    payload: multipartBody([
      {
        name: pick(rng, ['__proto__', 'constructor', 'hasOwnProperty', 'toString']),
        ...(rng.next() < 0.5 ? { filename: 'x.jpg' } : {}),
        data: good(),
      },
      { filename: 'x.jpg', data: good() },
    ]),
    codes: MULTIPART_ERRORS,
    mayDecode: true,
  }));
  add(10, () => ({
    category: 'multipart part headers over 16 KiB or garbage',
    headers: MULTIPART,
    payload: multipartBody([
      {
        rawHeaders: pick(rng, [
          `Content-Disposition: form-data; name="image"; filename="${'x'.repeat(20_000 + rng.int(20_000))}.jpg"`,
          `X-Junk: ${randomBytes(rng, 200)
            .toString('latin1')
            .replace(/[\r\n]/g, ' ')}`,
          'Content-Disposition: form-data; name=',
          'Content-Disposition: attachment; filename="x.jpg"',
        ]),
        data: good(),
      },
    ]),
    codes: MULTIPART_ERRORS,
    mayDecode: true,
  }));
  add(20, () => ({
    category: 'multipart: random bytes as the body',
    headers: MULTIPART,
    payload: randomBytes(rng, rng.int(5000)),
    codes: MULTIPART_ERRORS,
  }));
  add(30, () => ({
    category: 'multipart: bit flips in the framing',
    headers: MULTIPART,
    payload: (() => {
      const body = multipartBody([
        { name: 'note', data: 'hi' },
        { filename: 'x.png', contentType: 'image/png', data: png() },
      ]);
      // Flip bits in the first 160 bytes (boundary and part headers) or the last 50.
      const out = Buffer.from(body);
      for (let i = 0, n = 1 + rng.int(4); i < n; i++) {
        const at = rng.next() < 0.7 ? rng.int(160) : out.length - 1 - rng.int(50);
        out[at] ^= 1 << rng.int(8);
      }
      return out;
    })(),
    mayDecode: true,
  }));

  // Missing, wrong, extra and duplicate fields.
  add(20, () => ({
    category: 'fields: no image field (text fields only)',
    headers: MULTIPART,
    payload: multipartBody([
      { name: 'image', data: 'not a file' },
      { name: 'note', data: 'x'.repeat(rng.int(100)) },
    ]),
    codes: ['missing-image'],
  }));
  add(20, () => ({
    category: 'fields: wrong file field name',
    headers: MULTIPART,
    payload: multipartBody([
      {
        name: pick(rng, ['file', 'Image', 'IMAGE', 'img', 'image ', 'image[]', 'upload', '']),
        filename: 'x.jpg',
        data: good(),
      },
    ]),
    codes: ['missing-image'],
  }));
  add(15, () => ({
    category: 'fields: extra fields and files besides the image',
    headers: MULTIPART,
    payload: multipartBody(
      rng.shuffle([
        { name: 'patient', data: 'p-1' },
        { name: 'note', data: 'x'.repeat(rng.int(2000)) },
        { name: 'other', filename: 'other.bin', data: randomBytes(rng, rng.int(3000)) },
        { name: 'image', filename: 'x.jpg', contentType: 'image/jpeg', data: good() },
      ]),
    ),
    mustDecode: true,
  }));
  add(15, () => ({
    category: 'fields: duplicate image files (valid first)',
    headers: MULTIPART,
    payload: multipartBody([
      { filename: 'a.jpg', data: good() },
      { filename: 'b.jpg', data: randomBytes(rng, 1 + rng.int(3000)) },
    ]),
    mustDecode: true,
  }));
  add(15, () => ({
    category: 'fields: duplicate image files (junk first)',
    headers: MULTIPART,
    payload: multipartBody([
      { filename: 'a.jpg', data: randomBytes(rng, 1 + rng.int(3000)) },
      { filename: 'b.jpg', data: good() },
    ]),
    codes: ['corrupt', 'unsupported-format', 'too-small', 'too-large', 'empty'],
  }));
  add(10, () => ({
    category: 'fields: more than 4 files',
    headers: MULTIPART,
    payload: multipartBody(
      Array.from({ length: 5 + rng.int(10) }, (_, i) => ({
        name: i === 0 ? 'image' : `f${i}`,
        filename: `${i}.jpg`,
        data: i === 0 ? good() : 'x',
      })),
    ),
    codes: ['too-many-parts'],
  }));
  add(10, () => ({
    category: 'fields: more than 16 fields or 20 parts',
    headers: MULTIPART,
    payload: multipartBody([
      ...Array.from({ length: 17 + rng.int(30) }, (_, i) => ({ name: `f${i}`, data: 'v' })),
      { filename: 'x.jpg', data: good() },
    ]),
    codes: ['too-many-parts'],
  }));
  add(10, () => ({
    category: 'fields: image with an empty file name',
    headers: MULTIPART,
    payload: multipartBody([{ filename: '', data: good() }]),
    mayDecode: true,
  }));
  // Last, so the draws of the categories above stay those of docs/reliability.md.
  addDicomCases(rng, src, add);
  return cases;
}

/** DICOM uploads: valid, damaged, lying, huge and refused. */
function addDicomCases(rng: Rng, src: Sources, add: (n: number, make: () => FuzzCase) => void) {
  const dicom = (): Buffer => pick(rng, src.dicoms);
  const part = (): Partial<Part> => ({
    filename: pick(rng, ['study.dcm', 'IM0001', 'x.jpg']),
    contentType: pick(rng, ['application/dicom', 'application/octet-stream']),
  });
  add(10, () => imageCase('DICOM, valid', dicom(), { mustDecode: true }, part()));
  add(60, () =>
    imageCase(
      'DICOM, truncated',
      truncate(rng, dicom()),
      {
        codes: [...DICOM_CODES, 'not-dicom'],
        mayDecode: true, // a JPEG Baseline file cut in its sequence delimiter still decodes
      },
      part(),
    ),
  );
  add(60, () =>
    imageCase(
      'DICOM, bit-flipped',
      flipBits(rng, dicom(), 1 + rng.int(16), 132),
      {
        mayDecode: true,
      },
      part(),
    ),
  );
  add(60, () => {
    const out = Buffer.from(pick(rng, src.explicitDicoms));
    const fields = lengthFieldOffsets(out);
    for (let i = 0, n = 1 + rng.int(3); i < n; i++) {
      const { offset, size } = pick(rng, fields);
      const value = pick(rng, [
        0,
        1,
        3,
        0xfffe,
        0xffff,
        rng.int(0x10000),
        0xffffffff,
        rng.int(2 ** 31),
      ]);
      if (size === 2) out.writeUInt16LE(value & 0xffff, offset);
      else out.writeUInt32LE(value >>> 0, offset);
    }
    return imageCase(
      'DICOM, lying element lengths',
      out,
      { codes: DICOM_CODES, mayDecode: true },
      part(),
    );
  });
  add(15, () => {
    const out = Buffer.from(pick(rng, src.explicitDicoms));
    for (;;) {
      const rows = 1 + rng.int(65535);
      const columns = 1 + rng.int(65535);
      if (rows * columns <= 50_000_000) continue;
      out.writeUInt16LE(rows, imagePixelTagValueOffset(out, 0x0010));
      out.writeUInt16LE(columns, imagePixelTagValueOffset(out, 0x0011));
      return imageCase('DICOM, huge Rows x Columns', out, { codes: ['too-large'] }, part());
    }
  });
  add(10, () =>
    imageCase(
      'DICOM, refused transfer syntax',
      writeDicom({
        rows: 64,
        columns: 64,
        transferSyntax: pick(rng, ['1.2.840.10008.1.2.4.91', '1.2.840.10008.1.2.5', '1.2.3.4']),
        fragments: [pick(rng, src.jpegs)],
      }),
      { codes: ['unsupported-transfer-syntax'] },
      part(),
    ),
  );
  add(5, () =>
    imageCase(
      'DICOM, non-image SOP class',
      writeDicom({
        rows: 64,
        columns: 64,
        sopClassUid: pick(rng, [SOP.basicTextSr, SOP.encapsulatedPdf]),
      }),
      { codes: ['unsupported-sop-class'] },
      part(),
    ),
  );
  add(10, () =>
    imageCase(
      "DICOM, 'DICM' then junk",
      Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), randomBytes(rng, rng.int(4000))]),
      { codes: ['corrupt'] },
      part(),
    ),
  );
  const rawDicom = (
    category: string,
    payload: Buffer,
    expectation: Pick<FuzzCase, 'codes' | 'mayDecode' | 'mustDecode'>,
  ): FuzzCase => ({
    category,
    headers: { 'content-type': 'application/dicom' },
    payload,
    ...expectation,
  });
  add(5, () => rawDicom('raw application/dicom body, valid', dicom(), { mustDecode: true }));
  add(10, () =>
    rawDicom('raw application/dicom body, truncated', truncate(rng, dicom()), {
      codes: [...DICOM_CODES, 'not-dicom'],
      mayDecode: true,
    }),
  );
  add(5, () =>
    rawDicom('raw application/dicom body, not DICOM', pick(rng, [...src.jpegs, ...src.pngs]), {
      codes: ['not-dicom'],
    }),
  );
  add(3, () =>
    rawDicom(
      'raw application/dicom body over MAX_UPLOAD_BYTES',
      Buffer.concat([dicom(), randomBytes(rng, MAX_UPLOAD_BYTES)]),
      { codes: ['file-too-large'] },
    ),
  );
  add(5, () =>
    imageCase(
      'JPEG announced as application/dicom',
      pick(rng, src.jpegs),
      { codes: ['not-dicom'] },
      {
        contentType: 'application/dicom',
      },
    ),
  );
}

// ---- running ----

let sources: Sources;
let tiny: { png: Buffer[]; jpeg: Buffer[] };

const served = useInferenceApp('fedxray-fuzz-', async (dir) => {
  await writeTinyModelDir(join(dir, 'model'));
  return { modelDir: join(dir, 'model'), maxUploadBytes: MAX_UPLOAD_BYTES, rateLimitPerMinute: 0 };
});

beforeAll(async () => {
  sources = await loadSources();
  const rng = createRng(SEED ^ 0x5eed);
  const sides = Array.from({ length: 8 }, () => [1 + rng.int(31), 1 + rng.int(200)] as const);
  const make = (w: number, h: number, format: 'png' | 'jpeg'): Promise<Buffer> => {
    const image = sharp({ create: { width: w, height: h, channels: 3, background: '#777777' } });
    return (format === 'png' ? image.png() : image.jpeg()).toBuffer();
  };
  tiny = {
    png: await Promise.all(sides.map(([a, b], i) => make(i % 2 ? a : b, i % 2 ? b : a, 'png'))),
    jpeg: await Promise.all(sides.map(([a, b], i) => make(i % 2 ? b : a, i % 2 ? a : b, 'jpeg'))),
  };
});

function postImage(bytes: Buffer): Promise<LightMyRequestResponse> {
  return served.app.inject({
    method: 'POST',
    url: '/diagnose',
    headers: MULTIPART,
    payload: multipartBody([{ filename: 'x.jpg', contentType: 'image/jpeg', data: bytes }]),
  });
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`hang: ${what} took over ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('POST /diagnose under a barrage of malformed uploads', () => {
  it('answers a body with a large part lacking Content-Disposition (busboy hang regression)', async () => {
    const skipped = Buffer.alloc(100_000, 0x41);
    const payload = multipartBody([
      { rawHeaders: 'Content-Type: application/octet-stream', data: skipped },
      { filename: 'x.jpg', contentType: 'image/jpeg', data: sources.jpegs[2] },
    ]);
    const res = await withTimeout(
      served.app.inject({ method: 'POST', url: '/diagnose', headers: MULTIPART, payload }),
      CASE_TIMEOUT_MS,
      'a 100 KB part without Content-Disposition',
    );
    expect(res.statusCode).toBe(200);
    const alone = await withTimeout(
      served.app.inject({
        method: 'POST',
        url: '/diagnose',
        headers: MULTIPART,
        payload: multipartBody([{ rawHeaders: 'Content-Type: image/jpeg', data: skipped }]),
      }),
      CASE_TIMEOUT_MS,
      'only a 100 KB part without Content-Disposition',
    );
    expect(alone.statusCode).toBe(400);
    expect(alone.json().error.code).toBe('missing-image');
  });

  it(`answers every one with a documented 4xx (or a valid diagnosis), seed ${SEED}`, async () => {
    const warm = await postImage(sources.jpegs[0]);
    expect(warm.statusCode).toBe(200);
    const tensorsBefore = tf.memory().numTensors;

    const cases = buildCorpus(createRng(SEED), sources, tiny);
    expect(cases.length).toBeGreaterThanOrEqual(1000);
    const stats = new Map<string, Map<string, number>>();
    const problems: string[] = [];
    const started = performance.now();

    const runCase = async (c: FuzzCase, index: number): Promise<void> => {
      const res = await withTimeout(
        served.app.inject({
          method: 'POST',
          url: '/diagnose',
          headers: c.headers,
          payload: c.payload,
        }),
        CASE_TIMEOUT_MS,
        `case ${index} (${c.category})`,
      );
      let body: { error?: { code?: unknown; requestId?: unknown } } & Record<string, unknown>;
      try {
        body = res.json();
      } catch {
        problems.push(`case ${index} (${c.category}): ${res.statusCode}, body not JSON`);
        return;
      }
      const code = res.statusCode === 200 ? 'ok' : String(body.error?.code);
      const byStatus = stats.get(c.category) ?? new Map<string, number>();
      const key = `${res.statusCode} ${code}`;
      byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
      stats.set(c.category, byStatus);

      const where = `case ${index} (${c.category}, seed ${SEED}): ${res.statusCode} ${code}`;
      if (res.statusCode === 200) {
        const valid =
          (c.mayDecode === true || c.mustDecode === true) &&
          (body.label === 'NORMAL' || body.label === 'PNEUMONIA') &&
          typeof body.probability === 'number' &&
          body.probability >= 0 &&
          body.probability <= 1 &&
          body.disclaimer === DISCLAIMER;
        if (!valid) problems.push(`${where}: unexpected 200 ${res.body.slice(0, 200)}`);
        return;
      }
      if (DOCUMENTED_CODES[code] !== res.statusCode) {
        problems.push(`${where}: not a documented error: ${res.body.slice(0, 300)}`);
      } else if (c.codes && c.codes.length > 0 && !c.codes.includes(code)) {
        problems.push(`${where}: expected ${c.codes.join(' or ')}`);
      } else if (c.mustDecode) {
        problems.push(`${where}: expected 200`);
      }
      if (body.error?.requestId !== res.headers['x-request-id']) {
        problems.push(`${where}: the error has no request id`);
      }
    };

    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < cases.length) {
          const index = next++;
          await runCase(cases[index], index);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;

    if (process.env.FUZZ_REPORT) {
      const lines = [`seed ${SEED}: ${cases.length} cases in ${seconds.toFixed(1)} s`];
      const totals = new Map<string, number>();
      for (const [category, byStatus] of stats) {
        const counts = [...byStatus].sort().map(([k, n]) => `${k} x${n}`);
        lines.push(
          `| ${category} | ${[...byStatus.values()].reduce((a, b) => a + b, 0)} | ${counts.join(', ')} |`,
        );
        for (const [k, n] of byStatus) totals.set(k, (totals.get(k) ?? 0) + n);
      }
      lines.push(
        `totals: ${[...totals]
          .sort()
          .map(([k, n]) => `${k} x${n}`)
          .join(', ')}`,
      );
      console.log(lines.join('\n'));
    }
    expect(problems, problems.slice(0, 20).join('\n')).toEqual([]);

    // Still serving, and no tensor leaked by any failure path.
    const after = await postImage(sources.jpegs[1]);
    expect(after.statusCode).toBe(200);
    expect(after.json().label).toMatch(/^(NORMAL|PNEUMONIA)$/);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });
});
