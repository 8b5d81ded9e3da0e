/**
 * Writes small DICOM Part 10 files for tests: 128-byte preamble, 'DICM', the group 0002 meta
 * header (always Explicit VR Little Endian), then the data set in the transfer syntax asked
 * for (Implicit/Explicit VR LE, Explicit VR BE, Deflated), with native or encapsulated
 * (JPEG) pixel data. Also builds such files from the sample JPEGs.
 */
import { deflateRawSync } from 'node:zlib';
import sharp from 'sharp';

export const TS = {
  implicitLE: '1.2.840.10008.1.2',
  explicitLE: '1.2.840.10008.1.2.1',
  deflatedLE: '1.2.840.10008.1.2.1.99',
  explicitBE: '1.2.840.10008.1.2.2',
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  jpeg2000: '1.2.840.10008.1.2.4.91',
} as const;

export const SOP = {
  cr: '1.2.840.10008.5.1.4.1.1.1',
  dxPresentation: '1.2.840.10008.5.1.4.1.1.1.1',
  basicTextSr: '1.2.840.10008.5.1.4.1.1.88.11',
  encapsulatedPdf: '1.2.840.10008.5.1.4.1.1.104.1',
} as const;

/** Identifying values written into every test file unless replaced: none may leak. */
export const PATIENT = {
  name: 'Doe^Jane^Secret',
  id: 'PID-998877',
  birthDate: '19510203',
  accession: 'ACC-55443322',
  institution: 'St Privacy Hospital',
} as const;

export interface VoiLut {
  first: number;
  bits: number;
  entries: readonly number[];
}

export interface DicomFileOptions {
  transferSyntax?: string;
  sopClassUid?: string;
  rows: number;
  columns: number;
  /** Stored values, one per pixel (written with bitsAllocated bits each). */
  pixels?: ArrayLike<number>;
  /** JPEG streams, one fragment each, for an encapsulated transfer syntax. */
  fragments?: readonly Buffer[];
  bitsAllocated?: 8 | 16;
  bitsStored?: number;
  highBit?: number;
  pixelRepresentation?: 0 | 1;
  photometric?: string;
  samplesPerPixel?: number;
  rescale?: { slope: number; intercept: number };
  window?: { center: number; width: number; fn?: string };
  voiLut?: VoiLut;
  modality?: string;
  viewPosition?: string;
  patientName?: string;
  /** Leave the Pixel Data element out. */
  omitPixelData?: boolean;
}

type Value = Buffer | string | readonly number[];
interface El {
  group: number;
  element: number;
  vr: string;
  value: Value | El[][];
}

const LONG_VRS = new Set(['OB', 'OW', 'OF', 'OD', 'OL', 'SQ', 'UT', 'UN', 'UC', 'UR']);

class Writer {
  constructor(
    readonly littleEndian: boolean,
    readonly explicit: boolean,
  ) {}

  u16(n: number): Buffer {
    const b = Buffer.alloc(2);
    if (this.littleEndian) b.writeUInt16LE(n & 0xffff);
    else b.writeUInt16BE(n & 0xffff);
    return b;
  }

  u32(n: number): Buffer {
    const b = Buffer.alloc(4);
    if (this.littleEndian) b.writeUInt32LE(n >>> 0);
    else b.writeUInt32BE(n >>> 0);
    return b;
  }

  tag(group: number, element: number): Buffer {
    return Buffer.concat([this.u16(group), this.u16(element)]);
  }

  valueBytes(el: El): Buffer {
    const { value, vr } = el;
    if (Buffer.isBuffer(value)) return pad(value, 0);
    if (typeof value === 'string') return pad(Buffer.from(value, 'latin1'), vr === 'UI' ? 0 : 0x20);
    const numbers = value as readonly number[];
    if (vr === 'US' || vr === 'SS' || vr === 'OW') {
      return Buffer.concat(numbers.map((n) => this.u16(n)));
    }
    if (vr === 'UL') return Buffer.concat(numbers.map((n) => this.u32(n)));
    return Buffer.from(numbers as number[]);
  }

  element(el: El): Buffer {
    if (el.vr === 'SQ') {
      const items = (el.value as El[][]).map((item) => {
        const body = Buffer.concat(item.map((e) => this.element(e)));
        return Buffer.concat([this.tag(0xfffe, 0xe000), this.u32(body.length), body]);
      });
      return this.header(el, Buffer.concat(items));
    }
    return this.header(el, this.valueBytes(el));
  }

  header(el: El, body: Buffer): Buffer {
    const tag = this.tag(el.group, el.element);
    if (!this.explicit) return Buffer.concat([tag, this.u32(body.length), body]);
    const vr = Buffer.from(el.vr, 'latin1');
    if (LONG_VRS.has(el.vr)) {
      return Buffer.concat([tag, vr, Buffer.alloc(2), this.u32(body.length), body]);
    }
    return Buffer.concat([tag, vr, this.u16(body.length), body]);
  }
}

function pad(bytes: Buffer, fill: number): Buffer {
  return bytes.length % 2 === 0 ? bytes : Buffer.concat([bytes, Buffer.from([fill])]);
}

function el(group: number, element: number, vr: string, value: El['value']): El {
  return { group, element, vr, value };
}

function encapsulated(w: Writer, fragments: readonly Buffer[]): Buffer {
  const parts = [w.tag(0x7fe0, 0x0010), Buffer.from('OB'), Buffer.alloc(2), w.u32(0xffffffff)];
  parts.push(w.tag(0xfffe, 0xe000), w.u32(0)); // empty Basic Offset Table
  for (const f of fragments) {
    const data = pad(f, 0);
    parts.push(w.tag(0xfffe, 0xe000), w.u32(data.length), data);
  }
  parts.push(w.tag(0xfffe, 0xe0dd), w.u32(0));
  return Buffer.concat(parts);
}

function metaHeader(transferSyntax: string, sopClassUid: string): Buffer {
  const w = new Writer(true, true);
  const body = Buffer.concat([
    w.element(el(0x0002, 0x0001, 'OB', Buffer.from([0, 1]))),
    w.element(el(0x0002, 0x0002, 'UI', sopClassUid)),
    w.element(el(0x0002, 0x0003, 'UI', '1.2.826.0.1.3680043.8.498.1')),
    w.element(el(0x0002, 0x0010, 'UI', transferSyntax)),
    w.element(el(0x0002, 0x0012, 'UI', '1.2.826.0.1.3680043.8.498.2')),
  ]);
  const length = w.element(el(0x0002, 0x0000, 'UL', [body.length]));
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), length, body]);
}

/** A complete DICOM Part 10 file. */
export function writeDicom(o: DicomFileOptions): Buffer {
  const transferSyntax = o.transferSyntax ?? TS.explicitLE;
  const sopClassUid = o.sopClassUid ?? SOP.cr;
  const bitsAllocated = o.bitsAllocated ?? 8;
  const bitsStored = o.bitsStored ?? bitsAllocated;
  const w = new Writer(transferSyntax !== TS.explicitBE, transferSyntax !== TS.implicitLE);
  const els: El[] = [
    el(0x0008, 0x0016, 'UI', sopClassUid),
    el(0x0008, 0x0018, 'UI', '1.2.826.0.1.3680043.8.498.1'),
    el(0x0008, 0x0050, 'SH', PATIENT.accession),
    el(0x0008, 0x0060, 'CS', o.modality ?? 'CR'),
    el(0x0008, 0x0080, 'LO', PATIENT.institution),
    el(0x0010, 0x0010, 'PN', o.patientName ?? PATIENT.name),
    el(0x0010, 0x0020, 'LO', PATIENT.id),
    el(0x0010, 0x0030, 'DA', PATIENT.birthDate),
    el(0x0028, 0x0002, 'US', [o.samplesPerPixel ?? 1]),
    el(0x0028, 0x0004, 'CS', o.photometric ?? 'MONOCHROME2'),
    el(0x0028, 0x0010, 'US', [o.rows]),
    el(0x0028, 0x0011, 'US', [o.columns]),
    el(0x0028, 0x0100, 'US', [bitsAllocated]),
    el(0x0028, 0x0101, 'US', [bitsStored]),
    el(0x0028, 0x0102, 'US', [o.highBit ?? bitsStored - 1]),
    el(0x0028, 0x0103, 'US', [o.pixelRepresentation ?? 0]),
  ];
  if (o.viewPosition !== undefined) els.push(el(0x0018, 0x5101, 'CS', o.viewPosition));
  if (o.window) {
    els.push(el(0x0028, 0x1050, 'DS', String(o.window.center)));
    els.push(el(0x0028, 0x1051, 'DS', String(o.window.width)));
    if (o.window.fn) els.push(el(0x0028, 0x1056, 'CS', o.window.fn));
  }
  if (o.rescale) {
    els.push(el(0x0028, 0x1052, 'DS', String(o.rescale.intercept)));
    els.push(el(0x0028, 0x1053, 'DS', String(o.rescale.slope)));
  }
  if (o.voiLut) {
    const { first, bits, entries } = o.voiLut;
    els.push(
      el(0x0028, 0x3010, 'SQ', [
        [
          el(0x0028, 0x3002, 'US', [entries.length % 65536, first, bits]),
          el(0x0028, 0x3006, 'OW', entries),
        ],
      ]),
    );
  }
  els.sort((a, b) => a.group - b.group || a.element - b.element);
  let dataSet = Buffer.concat(els.map((e) => w.element(e)));
  if (!o.omitPixelData) {
    if (o.fragments) {
      dataSet = Buffer.concat([dataSet, encapsulated(w, o.fragments)]);
    } else {
      const pixels = Array.from(o.pixels ?? new Uint8Array(o.rows * o.columns));
      const vr = bitsAllocated === 16 ? 'OW' : 'OB';
      dataSet = Buffer.concat([dataSet, w.element(el(0x7fe0, 0x0010, vr, pixels))]);
    }
  }
  if (transferSyntax === TS.deflatedLE) dataSet = deflateRawSync(dataSet);
  return Buffer.concat([metaHeader(transferSyntax, sopClassUid), dataSet]);
}

/** The byte offset of the Pixel Data element's 4-byte length (Explicit VR LE, native). */
export function pixelDataLengthOffset(file: Buffer): number {
  const at = file.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
  if (at < 0) throw new Error('no Pixel Data element');
  return at + 8;
}

/** The offset of a 2-byte US value (Explicit VR LE) of tag (0028,element), e.g. 0x0010 Rows. */
export function imagePixelTagValueOffset(file: Buffer, element: number): number {
  const tag = Buffer.from([0x28, 0x00, element & 0xff, element >> 8, 0x55, 0x53]); // 'US'
  const at = file.indexOf(tag);
  if (at < 0) throw new Error(`no (0028,${element.toString(16)})`);
  return at + 8;
}

/** A JPEG as 8-bit gray pixels (what sharp's greyscale() gives). */
export async function grayPixels(
  jpeg: Buffer,
): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(jpeg)
    .greyscale()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

/** The same X-ray as MONOCHROME1: stored = 255 - gray, so a viewer shows the same image. */
export async function monochrome1FromJpeg(
  jpeg: Buffer,
  options: Partial<DicomFileOptions> = {},
): Promise<Buffer> {
  const { data, width, height } = await grayPixels(jpeg);
  return writeDicom({
    rows: height,
    columns: width,
    pixels: data.map((v) => 255 - v),
    photometric: 'MONOCHROME1',
    // Window 128/256 maps 8-bit values to themselves (PS3.3 C.11.2.1.2).
    window: { center: 128, width: 256 },
    ...options,
  });
}

/**
 * The same X-ray as 12 bits stored in 16, with rescale and a window that map it back to the
 * JPEG's 8-bit values: stored = 4v + 100; value = stored - 1124 = 4v - 1024; window
 * center -513.5, width 1021 gives ((4v - 1024 + 513.5 + 0.5) / 1020 + 0.5) * 255 = v.
 */
export async function sixteenBitFromJpeg(
  jpeg: Buffer,
  options: Partial<DicomFileOptions> = {},
): Promise<Buffer> {
  const { data, width, height } = await grayPixels(jpeg);
  return writeDicom({
    rows: height,
    columns: width,
    bitsAllocated: 16,
    bitsStored: 12,
    pixels: Array.from(data, (v) => 4 * v + 100),
    rescale: { slope: 1, intercept: -1124 },
    window: { center: -513.5, width: 1021 },
    ...options,
  });
}

/** The JPEG itself as the one fragment of a JPEG Baseline file. */
export async function jpegBaselineFromJpeg(
  jpeg: Buffer,
  options: Partial<DicomFileOptions> = {},
): Promise<Buffer> {
  const meta = await sharp(jpeg).metadata();
  return writeDicom({
    transferSyntax: TS.jpegBaseline,
    rows: meta.height,
    columns: meta.width,
    fragments: [jpeg],
    ...options,
  });
}

/**
 * Where each element's length field lies in an Explicit VR Little Endian file (meta header
 * and data set, top level, up to and including Pixel Data), to make them lie.
 */
export function lengthFieldOffsets(file: Buffer): { offset: number; size: 2 | 4 }[] {
  const out: { offset: number; size: 2 | 4 }[] = [];
  for (let at = 132; at + 8 <= file.length;) {
    const group = file.readUInt16LE(at);
    const element = file.readUInt16LE(at + 2);
    const vr = file.toString('latin1', at + 4, at + 6);
    if (LONG_VRS.has(vr)) {
      out.push({ offset: at + 8, size: 4 });
      const length = file.readUInt32LE(at + 8);
      if (group === 0x7fe0 && element === 0x0010) break;
      at += 12 + length;
    } else {
      out.push({ offset: at + 6, size: 2 });
      at += 8 + file.readUInt16LE(at + 6);
    }
  }
  return out;
}
