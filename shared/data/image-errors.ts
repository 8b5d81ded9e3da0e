/**
 * The limits every decoded X-ray must meet and the error its decoders throw, in a module of
 * their own so the JPEG/PNG decoder (image.ts) and the DICOM decoder (dicom.ts) share them.
 */

/** Smallest accepted width or height of an input image. */
export const MIN_IMAGE_SIDE = 32;
/** Largest accepted input (width x height), against decompression bombs. */
export const MAX_IMAGE_PIXELS = 50_000_000;

/**
 * Each code is the stable error code an HTTP answer carries. The DICOM ones name what was
 * refused; their details hold only UIDs and numbers, never a tag value about the patient.
 */
export type ImageDecodeErrorCode =
  | 'empty'
  | 'corrupt'
  | 'unsupported-format'
  | 'too-small'
  | 'too-large'
  | 'not-dicom'
  | 'unsupported-transfer-syntax'
  | 'unsupported-sop-class'
  | 'no-pixel-data'
  | 'unsupported-pixel-format';

/** The HTTP status of each code: 400 for broken input, 413 too big, 415 a refused kind. */
export const IMAGE_DECODE_STATUS: Readonly<Record<ImageDecodeErrorCode, 400 | 413 | 415>> = {
  empty: 400,
  corrupt: 400,
  'too-small': 400,
  'unsupported-format': 415,
  'too-large': 413,
  'not-dicom': 415,
  'unsupported-transfer-syntax': 415,
  'unsupported-sop-class': 415,
  'no-pixel-data': 415,
  'unsupported-pixel-format': 415,
};

export class ImageDecodeError extends Error {
  readonly code: ImageDecodeErrorCode;
  /** Machine-readable facts for the error answer (UIDs, sizes). */
  readonly details?: Record<string, string | number>;

  constructor(
    code: ImageDecodeErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, string | number> },
  ) {
    super(message, options);
    this.name = 'ImageDecodeError';
    this.code = code;
    if (options?.details) this.details = options.details;
  }
}
