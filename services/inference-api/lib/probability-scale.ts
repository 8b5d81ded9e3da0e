/**
 * The scale /diagnose reports probabilities in: a model with temperature scaling in its
 * metadata (metadata.calibration) answers sigmoid(logit(p) / T) and its threshold mapped the
 * same way, so the label, decided on the raw score, is the one the raw scale gives; a model
 * without answers the raw output unchanged.
 */
import { temperProbability } from '../../../shared/metrics/index.ts';
import type { Diagnosis } from '../schemas/diagnose.ts';
import type { ModelCalibration } from '../schemas/model.ts';

type ScaledFields = Pick<
  Diagnosis,
  | 'probability'
  | 'probabilities'
  | 'threshold'
  | 'probabilityScale'
  | 'rawProbability'
  | 'rawThreshold'
  | 'calibration'
>;

/** The probability and threshold fields of a diagnosis of raw score `raw` at raw `threshold`. */
export function inReportedScale(
  raw: number,
  threshold: number,
  calibration: ModelCalibration | undefined,
): ScaledFields {
  if (!calibration) {
    return {
      probability: raw,
      probabilities: { NORMAL: 1 - raw, PNEUMONIA: raw },
      threshold,
      probabilityScale: 'raw',
    };
  }
  const probability = temperProbability(raw, calibration.temperature);
  return {
    probability,
    probabilities: { NORMAL: 1 - probability, PNEUMONIA: probability },
    threshold: temperProbability(threshold, calibration.temperature),
    probabilityScale: 'temperature-scaled',
    rawProbability: raw,
    rawThreshold: threshold,
    calibration: { method: calibration.method, temperature: calibration.temperature },
  };
}

/**
 * The calibration of a model's metadata, undefined when it has none; throws on one that names
 * another method or no positive finite temperature (its scale would be unknown).
 */
export function readModelCalibration(value: unknown): ModelCalibration | undefined {
  if (value === undefined || value === null) return undefined;
  const record = value as { method?: unknown; temperature?: unknown };
  const { method, temperature } = record;
  if (
    method !== 'temperature' ||
    typeof temperature !== 'number' ||
    !Number.isFinite(temperature) ||
    temperature <= 0
  ) {
    throw new Error(
      `unusable calibration ${JSON.stringify({ method, temperature })}: expected ` +
        '{ method: "temperature", temperature > 0 }',
    );
  }
  return { method, temperature };
}
