/**
 * Reads the Image Pixel, Modality LUT and VOI LUT modules of a DICOM data set into the
 * GrayPixelModule that dicom-pixels.ts applies, refusing what it cannot show as gray. Also
 * the error helpers the DICOM decoder shares.
 */
import type { DataSet } from 'dicom-parser';
import type { GrayPixelModule, VoiTransform } from './dicom-pixels.ts';
import { photometricTerm, wellFormedCodeString } from './dicom-uids.ts';
import { ImageDecodeError } from './image-errors.ts';

export function dicomLabel(source: string | undefined): string {
  return source === undefined ? 'the DICOM file' : `DICOM file ${source}`;
}

export function dicomCorrupt(source: string | undefined, what: string): ImageDecodeError {
  return new ImageDecodeError('corrupt', `${dicomLabel(source)} is corrupt or truncated: ${what}`);
}

function firstNumber(dataSet: DataSet, tag: string): number | undefined {
  const value = dataSet.floatString(tag, 0);
  return value !== undefined && Number.isFinite(value) ? value : undefined;
}

/** The VOI transform in force: the first VOI LUT, else the first window, else min-max. */
function voiOf(dataSet: DataSet, modalitySigned: boolean): VoiTransform {
  const lut = voiLutOf(dataSet, modalitySigned);
  if (lut) return lut;
  const center = firstNumber(dataSet, 'x00281050');
  const width = firstNumber(dataSet, 'x00281051');
  const fnValue = wellFormedCodeString(dataSet.string('x00281056')) ?? 'LINEAR';
  const fn = fnValue === 'SIGMOID' || fnValue === 'LINEAR_EXACT' ? fnValue : 'LINEAR';
  if (center !== undefined && width !== undefined && width >= (fn === 'LINEAR' ? 1 : 1e-9)) {
    return { kind: 'window', center, width, fn };
  }
  return { kind: 'min-max' };
}

/** A malformed VOI LUT is ignored (a viewing aid only), not an error. */
function voiLutOf(dataSet: DataSet, modalitySigned: boolean): VoiTransform | undefined {
  const item = dataSet.elements.x00283010?.items?.[0]?.dataSet;
  if (!item) return undefined;
  const descriptor = item.elements.x00283002;
  const data = item.elements.x00283006;
  if (!descriptor || !data || descriptor.length < 6) return undefined;
  const n = item.uint16('x00283002', 0) || 65536;
  let first = item.uint16('x00283002', 1) ?? 0;
  const bits = item.uint16('x00283002', 2) ?? 16;
  if ((descriptor.vr === 'SS' || modalitySigned) && first >= 32768) first -= 65536;
  if (bits < 1 || bits > 16 || data.dataOffset + data.length > item.byteArray.length) {
    return undefined;
  }
  const entries = new Float64Array(n);
  if (bits <= 8 && data.length === n) {
    for (let i = 0; i < n; i++) entries[i] = item.byteArray[data.dataOffset + i];
  } else if (data.length >= 2 * n) {
    for (let i = 0; i < n; i++) entries[i] = item.uint16('x00283006', i) ?? 0;
  } else {
    return undefined;
  }
  return { kind: 'lut', first, bits, entries };
}

function unsupportedPixels(source: string | undefined, what: string): ImageDecodeError {
  return new ImageDecodeError(
    'unsupported-pixel-format',
    `${dicomLabel(source)} has ${what}; only grayscale MONOCHROME1/MONOCHROME2 images with 8 or 16 ` +
      'bits allocated are supported (and colour JPEG Baseline, converted to gray)',
  );
}

/**
 * The pixel module of a data set; `jpeg`: the pixels are a JPEG Baseline frame (8-bit, any
 * colour model sharp turns to gray). Throws 'unsupported-pixel-format' or 'corrupt'.
 */
export function readPixelModule(
  dataSet: DataSet,
  jpeg: boolean,
  source: string | undefined,
): GrayPixelModule {
  // Absent means MONOCHROME2 here (old files); a value that is no defined term is not echoed.
  const photometricValue = dataSet.string('x00280004');
  const photometric =
    photometricValue === undefined
      ? 'MONOCHROME2'
      : (photometricTerm(photometricValue) ?? 'an unknown value');
  const samples = dataSet.uint16('x00280002') ?? 1;
  const gray = photometric === 'MONOCHROME1' || photometric === 'MONOCHROME2';
  const colourJpeg = jpeg && samples === 3 && /^(RGB|YBR_FULL|YBR_FULL_422)$/.test(photometric);
  if (!((gray && samples === 1) || colourJpeg)) {
    throw unsupportedPixels(
      source,
      `Photometric Interpretation ${photometric} with ${samples} sample(s) per pixel`,
    );
  }
  const bitsAllocated = dataSet.uint16('x00280100') ?? 0;
  const bitsStored = dataSet.uint16('x00280101') ?? bitsAllocated;
  const highBit = dataSet.uint16('x00280102') ?? bitsStored - 1;
  const signed = (dataSet.uint16('x00280103') ?? 0) === 1;
  if (bitsAllocated !== 8 && bitsAllocated !== 16) {
    throw unsupportedPixels(source, `${bitsAllocated} bits allocated`);
  }
  if (
    bitsStored < 1 ||
    bitsStored > bitsAllocated ||
    highBit < bitsStored - 1 ||
    highBit >= bitsAllocated
  ) {
    throw unsupportedPixels(
      source,
      `${bitsStored} bits stored with high bit ${highBit} in ${bitsAllocated} bits allocated`,
    );
  }
  if (jpeg && bitsAllocated !== 8) {
    throw unsupportedPixels(source, `JPEG Baseline with ${bitsAllocated} bits allocated`);
  }
  const slope = firstNumber(dataSet, 'x00281053') ?? 1;
  const intercept = firstNumber(dataSet, 'x00281052') ?? 0;
  if (slope === 0) throw dicomCorrupt(source, 'Rescale Slope is 0');
  const modalitySigned = signed || intercept < 0 || slope < 0;
  return {
    // A decoded JPEG frame is 8-bit unsigned whatever the header claims.
    bitsAllocated,
    bitsStored: jpeg ? 8 : bitsStored,
    highBit: jpeg ? 7 : highBit,
    signed: jpeg ? false : signed,
    inverted: photometric === 'MONOCHROME1',
    slope,
    intercept,
    voi: voiOf(dataSet, modalitySigned),
  };
}
