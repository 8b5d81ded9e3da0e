/**
 * DICOM Part 10 input: parses the file with dicom-parser (cornerstonejs, MIT: small, pure JS,
 * reads Part 10 and encapsulated pixel data; dcmjs is larger and aimed at writing and
 * structured reports), checks that it holds a grayscale image we can decode, and turns its
 * first frame into 8-bit gray as a viewer would show it (dicom-pixel-module.ts reads the
 * rescale and VOI, dicom-pixels.ts applies them). JPEG Baseline frames are decoded with sharp.
 *
 * Privacy: no tag value reaches a message or a result except the UIDs of the transfer
 * syntax and SOP class (checked to be well-formed UIDs), the Photometric Interpretation,
 * and the summary { modality, viewPosition, rows, columns }, each of the three a standard
 * defined term or nothing.
 */
import { inflateRawSync } from 'node:zlib';
import dicomParser, { type DataSet, type Element } from 'dicom-parser';
import sharp, { type OutputInfo } from 'sharp';
import { dicomCorrupt, dicomLabel, readPixelModule } from './dicom-pixel-module.ts';
import { toGray8, storedBits, type GrayPixelModule } from './dicom-pixels.ts';
import {
  DEFLATED_EXPLICIT_VR_LE,
  SUPPORTED_TRANSFER_SYNTAXES,
  isNonImageSopClass,
  isWellFormedUid,
  modalityTerm,
  transferSyntaxName,
  viewPositionTerm,
  type TransferSyntax,
} from './dicom-uids.ts';
import { ImageDecodeError, MAX_IMAGE_PIXELS, MIN_IMAGE_SIDE } from './image-errors.ts';

/** What a /diagnose answer may tell about the file: nothing that identifies the patient. */
export interface DicomSummary {
  /** Modality (0008,0060), e.g. 'CR' or 'DX'; null when absent or not a defined term. */
  modality: string | null;
  /** View Position (0018,5101), e.g. 'PA' or 'AP'; null when absent or not a defined term. */
  viewPosition: string | null;
  rows: number;
  columns: number;
}

/** A decoded frame: width x height 8-bit gray, row-major, 0 black. */
export interface DicomGray8 {
  summary: DicomSummary;
  width: number;
  height: number;
  data: Uint8Array;
}

interface DicomHeader {
  summary: DicomSummary;
  syntax: TransferSyntax;
  dataSet: DataSet;
  pixelData: Element;
  pixel: GrayPixelModule;
}

const MAGIC_OFFSET = 128;

/** The dataset may inflate to a full-size 16-bit frame and its header, no more. */
const MAX_INFLATED_BYTES = 2 * MAX_IMAGE_PIXELS + 1024 * 1024;

/** A Part 10 file: 128-byte preamble, then 'DICM'. */
export function isDicom(bytes: Uint8Array): boolean {
  return (
    bytes.length >= MAGIC_OFFSET + 4 &&
    bytes[MAGIC_OFFSET] === 0x44 && // D
    bytes[MAGIC_OFFSET + 1] === 0x49 && // I
    bytes[MAGIC_OFFSET + 2] === 0x43 && // C
    bytes[MAGIC_OFFSET + 3] === 0x4d // M
  );
}

function uidForMessage(value: string | undefined): string {
  if (value === undefined || value === '') return '(none)';
  return isWellFormedUid(value) ? value : '(not a valid UID)';
}

/** Parses the meta header and dataset; the library's own messages are not passed on. */
function parse(bytes: Uint8Array, source: string | undefined): { dataSet: DataSet; uid: string } {
  if (!isDicom(bytes)) {
    throw new ImageDecodeError(
      'not-dicom',
      `${dicomLabel(source)} is not a DICOM Part 10 file: no 'DICM' at byte 128 ` +
        '(files without the Part 10 preamble and meta header are not supported)',
    );
  }
  let uid: string;
  try {
    uid = dicomParser.readPart10Header(bytes).string('x00020010') ?? '';
  } catch {
    throw dicomCorrupt(source, 'the file meta information (group 0002) cannot be read');
  }
  if (uid === '')
    throw dicomCorrupt(source, 'no Transfer Syntax UID (0002,0010) in the file meta information');
  const syntax = SUPPORTED_TRANSFER_SYNTAXES[uid];
  if (syntax === undefined) {
    const shown = uidForMessage(uid);
    const name = transferSyntaxName(uid);
    throw new ImageDecodeError(
      'unsupported-transfer-syntax',
      `${dicomLabel(source)} uses transfer syntax ${shown}${name ? ` (${name})` : ''}; supported: ` +
        Object.entries(SUPPORTED_TRANSFER_SYNTAXES)
          .map(([u, s]) => `${u} (${s.name})`)
          .join(', '),
      { details: { transferSyntaxUid: shown } },
    );
  }
  try {
    const dataSet = dicomParser.parseDicom(bytes, {
      TransferSyntaxUID: uid,
      ...(uid === DEFLATED_EXPLICIT_VR_LE ? { inflater: inflate } : {}),
    });
    return { dataSet, uid };
  } catch (error) {
    // dicom-parser wraps what a data set parse throws as { exception, dataSet }.
    const inner = (error as { exception?: unknown } | null)?.exception ?? error;
    if (inner instanceof ImageDecodeError) throw inner;
    throw dicomCorrupt(source, 'the data set cannot be parsed');
  }
}

/** dicom-parser's inflater hook: the header as is, then the inflated data set, bounded. */
function inflate(bytes: Uint8Array, position: number): Uint8Array {
  let inflated: Buffer;
  try {
    inflated = inflateRawSync(bytes.subarray(position), { maxOutputLength: MAX_INFLATED_BYTES });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new ImageDecodeError(
        'too-large',
        `the deflated DICOM data set inflates to more than ${MAX_INFLATED_BYTES} bytes`,
      );
    }
    throw error;
  }
  return Buffer.concat([bytes.subarray(0, position), inflated]);
}

function readHeader(bytes: Uint8Array, source: string | undefined): DicomHeader {
  const { dataSet, uid } = parse(bytes, source);
  const syntax = SUPPORTED_TRANSFER_SYNTAXES[uid];
  try {
    return checkImage(dataSet, syntax, source);
  } catch (error) {
    if (error instanceof ImageDecodeError) throw error;
    throw dicomCorrupt(source, 'an image attribute cannot be read');
  }
}

function checkImage(
  dataSet: DataSet,
  syntax: TransferSyntax,
  source: string | undefined,
): DicomHeader {
  const sopClass = dataSet.string('x00080016') ?? dataSet.string('x00020002') ?? '';
  if (sopClass !== '' && isNonImageSopClass(sopClass)) {
    const shown = uidForMessage(sopClass);
    throw new ImageDecodeError(
      'unsupported-sop-class',
      `${dicomLabel(source)} is of SOP class ${shown}, which holds no image`,
      { details: { sopClassUid: shown } },
    );
  }
  const pixelData = dataSet.elements.x7fe00010;
  if (!pixelData || pixelData.length === 0) {
    const shown = uidForMessage(sopClass);
    throw new ImageDecodeError(
      'no-pixel-data',
      `${dicomLabel(source)} has no Pixel Data (7FE0,0010) (SOP class ${shown})`,
      { details: { sopClassUid: shown } },
    );
  }
  const rows = dataSet.uint16('x00280010') ?? 0;
  const columns = dataSet.uint16('x00280011') ?? 0;
  const summary: DicomSummary = {
    modality: modalityTerm(dataSet.string('x00080060')),
    viewPosition: viewPositionTerm(dataSet.string('x00185101')),
    rows,
    columns,
  };
  if (rows === 0 || columns === 0) throw dicomCorrupt(source, 'Rows or Columns is missing or 0');
  if (rows * columns > MAX_IMAGE_PIXELS) {
    throw new ImageDecodeError(
      'too-large',
      `${dicomLabel(source)} is ${columns}x${rows} = ${rows * columns} pixels; the limit is ${MAX_IMAGE_PIXELS}`,
    );
  }
  if (rows < MIN_IMAGE_SIDE || columns < MIN_IMAGE_SIDE) {
    throw new ImageDecodeError(
      'too-small',
      `${dicomLabel(source)} is ${columns}x${rows}; at least ${MIN_IMAGE_SIDE}x${MIN_IMAGE_SIDE} is required`,
    );
  }
  const pixel = readPixelModule(dataSet, syntax.encoding === 'jpeg-baseline', source);
  return { summary, syntax, dataSet, pixelData, pixel };
}

/** The bytes of frame 0 of native pixel data, checked against what Rows x Columns need. */
function nativeFrame(header: DicomHeader, source: string | undefined): Uint8Array {
  const { pixelData, dataSet, pixel, summary } = header;
  const needed = summary.rows * summary.columns * (pixel.bitsAllocated / 8);
  if (pixelData.encapsulatedPixelData) {
    throw dicomCorrupt(source, 'native transfer syntax with encapsulated pixel data');
  }
  const available = Math.min(pixelData.length, dataSet.byteArray.length - pixelData.dataOffset);
  if (available < needed) {
    throw dicomCorrupt(
      source,
      `Pixel Data holds ${Math.max(available, 0)} bytes; ${summary.columns}x${summary.rows} at ` +
        `${pixel.bitsAllocated} bits need ${needed}`,
    );
  }
  return dataSet.byteArray.subarray(pixelData.dataOffset, pixelData.dataOffset + needed);
}

/**
 * The JPEG stream of frame 0: its fragments up to the next one that starts a new JPEG
 * (SOI, FFD8), so no Basic Offset Table is needed. Each fragment is checked to lie inside
 * the file.
 */
function encapsulatedFrame(header: DicomHeader, source: string | undefined): Buffer {
  const { pixelData, dataSet } = header;
  const fragments = pixelData.fragments ?? [];
  if (!pixelData.encapsulatedPixelData || fragments.length === 0) {
    throw dicomCorrupt(source, 'JPEG transfer syntax without encapsulated pixel data fragments');
  }
  const bytes = dataSet.byteArray;
  const parts: Uint8Array[] = [];
  for (const [i, fragment] of fragments.entries()) {
    const end = fragment.position + fragment.length;
    if (fragment.position < 0 || end > bytes.length) {
      throw dicomCorrupt(source, `pixel data fragment ${i} runs past the end of the file`);
    }
    const data = bytes.subarray(fragment.position, end);
    if (i > 0 && data[0] === 0xff && data[1] === 0xd8) break;
    parts.push(data);
  }
  return Buffer.concat(parts);
}

async function decodeJpegFrame(
  jpeg: Buffer,
  header: DicomHeader,
  source: string | undefined,
): Promise<Uint8Array> {
  const { rows, columns } = header.summary;
  let out: { data: Buffer; info: OutputInfo };
  try {
    out = await sharp(jpeg, { failOn: 'error', limitInputPixels: MAX_IMAGE_PIXELS })
      .greyscale()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch {
    throw dicomCorrupt(source, 'the JPEG Baseline frame cannot be decoded');
  }
  const { width, height, channels } = out.info;
  if (width !== columns || height !== rows || channels !== 1) {
    throw dicomCorrupt(
      source,
      `the JPEG frame is ${width}x${height}, the header says ${columns}x${rows}`,
    );
  }
  return new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.length);
}

/** Checks a DICOM file's header (everything but the pixels) and reports its summary. */
export function readDicomSummary(bytes: Uint8Array, source?: string): DicomSummary {
  return readHeader(bytes, source).summary;
}

/**
 * Decodes frame 0 of a DICOM Part 10 file to 8-bit gray. Throws ImageDecodeError: 'not-dicom',
 * 'unsupported-transfer-syntax', 'unsupported-sop-class', 'no-pixel-data',
 * 'unsupported-pixel-format' (415); 'too-large' (413); 'corrupt', 'too-small' (400).
 */
export async function decodeDicom(bytes: Uint8Array, source?: string): Promise<DicomGray8> {
  const header = readHeader(bytes, source);
  const { rows, columns } = header.summary;
  let bits: Uint8Array | Uint16Array;
  if (header.syntax.encoding === 'jpeg-baseline') {
    bits = await decodeJpegFrame(encapsulatedFrame(header, source), header, source);
  } else {
    const frame = nativeFrame(header, source);
    bits = storedBits(frame, rows * columns, header.pixel, header.syntax.encoding === 'native-le');
  }
  return {
    summary: header.summary,
    width: columns,
    height: rows,
    data: toGray8(bits, header.pixel),
  };
}
