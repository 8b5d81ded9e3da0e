/**
 * The DICOM UIDs and defined terms the X-ray decoder cares about: which transfer syntaxes it
 * decodes, which SOP classes are known not to be images, and guards so only well-formed UIDs
 * and standard defined terms ever reach a message or an answer (a hostile or sloppy file can
 * put anything, a patient's name included, in any element).
 */

/** How the pixel data of a transfer syntax is laid out, for the ones we decode. */
export type PixelEncoding = 'native-le' | 'native-be' | 'jpeg-baseline';

export interface TransferSyntax {
  name: string;
  encoding: PixelEncoding;
  /** The data set after the meta header is raw-deflated (RFC 1951). */
  deflated?: boolean;
}

export const IMPLICIT_VR_LE = '1.2.840.10008.1.2';
export const EXPLICIT_VR_LE = '1.2.840.10008.1.2.1';
export const DEFLATED_EXPLICIT_VR_LE = '1.2.840.10008.1.2.1.99';
export const EXPLICIT_VR_BE = '1.2.840.10008.1.2.2';
export const JPEG_BASELINE = '1.2.840.10008.1.2.4.50';

export const SUPPORTED_TRANSFER_SYNTAXES: Readonly<Record<string, TransferSyntax>> = {
  [IMPLICIT_VR_LE]: { name: 'Implicit VR Little Endian', encoding: 'native-le' },
  [EXPLICIT_VR_LE]: { name: 'Explicit VR Little Endian', encoding: 'native-le' },
  [DEFLATED_EXPLICIT_VR_LE]: {
    name: 'Deflated Explicit VR Little Endian',
    encoding: 'native-le',
    deflated: true,
  },
  [EXPLICIT_VR_BE]: { name: 'Explicit VR Big Endian (retired)', encoding: 'native-be' },
  [JPEG_BASELINE]: { name: 'JPEG Baseline (Process 1)', encoding: 'jpeg-baseline' },
};

/** Names of common transfer syntaxes we refuse, so the 415 message says what the file is. */
const KNOWN_UNSUPPORTED: Readonly<Record<string, string>> = {
  '1.2.840.10008.1.2.4.51': 'JPEG Extended (Process 2 & 4, 12-bit)',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless (Process 14)',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless SV1',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-Lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 Lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.4.201': 'HTJ2K Lossless',
  '1.2.840.10008.1.2.4.203': 'HTJ2K',
  '1.2.840.10008.1.2.5': 'RLE Lossless',
  '1.2.840.10008.1.2.4.100': 'MPEG2',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264',
};

export function transferSyntaxName(uid: string): string | undefined {
  return SUPPORTED_TRANSFER_SYNTAXES[uid]?.name ?? KNOWN_UNSUPPORTED[uid];
}

/**
 * SOP class UID prefixes of storage classes that hold no image to diagnose: structured
 * reports and key objects, presentation states, waveforms, encapsulated documents, raw data,
 * registrations, segmentations and surfaces, measurements, RT objects other than RT Image.
 * A class outside this list is accepted when it carries pixel data.
 */
const NON_IMAGE_SOP_CLASS_PREFIXES: readonly string[] = [
  '1.2.840.10008.5.1.4.1.1.88.', // SR documents, key object selection
  '1.2.840.10008.5.1.4.1.1.11.', // presentation states
  '1.2.840.10008.5.1.4.1.1.9.', // waveforms (ECG, audio, ...)
  '1.2.840.10008.5.1.4.1.1.104.', // encapsulated PDF, CDA, STL, ...
  '1.2.840.10008.5.1.4.1.1.66', // raw data, registrations, segmentation, fiducials
  '1.2.840.10008.5.1.4.1.1.67', // real world value mapping
  '1.2.840.10008.5.1.4.1.1.68.', // surfaces
  '1.2.840.10008.5.1.4.1.1.78.', // ophthalmic measurements
  '1.2.840.10008.5.1.4.1.1.79.',
  '1.2.840.10008.5.1.4.1.1.80.',
  '1.2.840.10008.5.1.4.1.1.81.',
  '1.2.840.10008.5.1.4.1.1.82.',
  '1.2.840.10008.5.1.4.1.1.90.', // content assessment results
  '1.2.840.10008.5.1.4.1.1.200.', // protocols
  '1.2.840.10008.5.1.4.1.1.481.', // RT (RT Image, .481.1, is allowed below)
  '1.2.840.10008.5.1.4.34.', // RT second generation
  '1.2.840.10008.5.1.4.38.', // hanging protocols
  '1.2.840.10008.5.1.4.39.', // color palettes
  '1.2.840.10008.5.1.4.43.', // generic implant templates
  '1.2.840.10008.5.1.4.44.',
  '1.2.840.10008.5.1.4.45.',
];
const RT_IMAGE = '1.2.840.10008.5.1.4.1.1.481.1';

export function isNonImageSopClass(uid: string): boolean {
  if (uid === RT_IMAGE) return false;
  return NON_IMAGE_SOP_CLASS_PREFIXES.some(
    (p) => uid === p.replace(/\.$/, '') || uid.startsWith(p),
  );
}

/**
 * A UID as PS3.5 9.1 allows (digits and dots, at most 64 characters). Only such values are
 * echoed in errors: a hostile file could put a patient's name where a UID belongs.
 */
export function isWellFormedUid(value: string): boolean {
  return /^[0-9]+(\.[0-9]+)*$/.test(value) && value.length <= 64;
}

/** A Code String value as PS3.5 allows (upper case, digits, space, underscore; 16 at most). */
export function wellFormedCodeString(value: string | undefined): string | null {
  if (value === undefined) return null;
  const trimmed = value.trim();
  return /^[A-Z0-9_ ]{1,16}$/.test(trimmed) ? trimmed : null;
}

/** Modality (0008,0060) defined terms (PS3.3 C.7.3.1.1.1), the ones in use today. */
const MODALITIES = new Set(
  (
    'AR ASMT AU BDUS BI BMD CR CT CTPROTOCOL DG DOC DX ECG EPS ES FID GM HC HD IO IOL IVOCT ' +
    'IVUS KER KO LEN LS MG MR M3D NM OAM OCT OP OPM OPT OPTBSV OPTENF OPV OSS OT PLAN PR PT ' +
    'PX REG RESP RF RG RTDOSE RTIMAGE RTPLAN RTRECORD RTSTRUCT RWV SEG SM SMR SR SRF STAIN ' +
    'TEXTUREMAP TG US VA XA XC'
  ).split(' '),
);

/** View Position (0018,5101) defined terms of projection radiography and mammography. */
const VIEW_POSITIONS = new Set(
  (
    'AP PA LL RL RLD LLD RLO LLO LAT LATERAL OBL CC FB LM LMO ML MLO SIO XCC XCCL XCCM ' +
    'AT RCC LCC RMLO LMLO'
  ).split(' '),
);

/** Photometric Interpretation (0028,0004) defined terms (PS3.3 C.7.6.3.1.2). */
const PHOTOMETRIC_INTERPRETATIONS = new Set([
  'MONOCHROME1',
  'MONOCHROME2',
  'PALETTE COLOR',
  'RGB',
  'HSV',
  'ARGB',
  'CMYK',
  'YBR_FULL',
  'YBR_FULL_422',
  'YBR_PARTIAL_422',
  'YBR_PARTIAL_420',
  'YBR_ICT',
  'YBR_RCT',
]);

function definedTerm(terms: ReadonlySet<string>, value: string | undefined): string | null {
  const code = wellFormedCodeString(value);
  return code !== null && terms.has(code) ? code : null;
}

export const modalityTerm = (value: string | undefined): string | null =>
  definedTerm(MODALITIES, value);
export const viewPositionTerm = (value: string | undefined): string | null =>
  definedTerm(VIEW_POSITIONS, value);
export const photometricTerm = (value: string | undefined): string | null =>
  definedTerm(PHOTOMETRIC_INTERPRETATIONS, value);
