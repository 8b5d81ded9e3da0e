import {
  IMAGE_DECODE_STATUS,
  ImageDecodeError,
  decodeXrayImage,
} from '../../../shared/data/image.ts';
import type { DicomSummary } from '../../../shared/data/dicom.ts';
import { HttpError } from '../../../shared/service/errors.ts';
import { DISCLAIMER, type Diagnosis } from '../schemas/diagnose.ts';
import { modelRef } from '../schemas/model.ts';
import { explainDiagnosis } from './explanation.ts';
import type { LoadedModel } from './loaded-model.ts';
import { inReportedScale } from './probability-scale.ts';

/**
 * Decodes one X-ray exactly as the model was trained on and scores it; `threshold` is the one
 * in force (the site's operating point or the model's own), in the raw scale; a calibrated
 * model reports both in its tempered scale. `explain` adds the Grad-CAM map.
 */
export async function diagnose(
  loaded: LoadedModel,
  bytes: Buffer,
  threshold: number,
  options: { explain?: boolean } = {},
): Promise<Diagnosis> {
  const started = performance.now();
  const { info } = loaded;
  const { inputSize, normalization, equalize } = info.preprocessing;
  let pixels: Float32Array;
  let dicom: DicomSummary | undefined;
  try {
    ({ pixels, dicom } = await decodeXrayImage(bytes, {
      size: inputSize,
      normalization,
      equalize,
    }));
  } catch (error) {
    if (error instanceof ImageDecodeError) {
      throw new HttpError(
        IMAGE_DECODE_STATUS[error.code],
        error.code,
        error.message,
        error.details,
      );
    }
    throw error;
  }
  const [p] = await loaded.predict(pixels, 1, inputSize);
  if (!Number.isFinite(p)) {
    throw new Error(`model ${info.id} predicted ${p}`);
  }
  const raw = Math.min(Math.max(p, 0), 1);
  const explanation = options.explain ? await explainDiagnosis(loaded, pixels, bytes) : undefined;
  return {
    // Decided on the raw score: tempering is monotone, so it is the same in either scale.
    label: raw >= threshold ? 'PNEUMONIA' : 'NORMAL',
    ...inReportedScale(raw, threshold, info.calibration),
    model: modelRef(info),
    timingMs: Math.round((performance.now() - started) * 100) / 100,
    ...(explanation ? { explanation } : {}),
    ...(dicom ? { dicom } : {}),
    disclaimer: DISCLAIMER,
  };
}
