/**
 * The operating point of a simulated federation: every hospital scores its held-out
 * calibration split (SimulationConfig.calibrationFraction) and shares only a per-class score
 * histogram and its NLL curve over temperatures, as a node's POST /evaluate does; the threshold
 * is chosen by the rule on the pooled histogram and the temperature fitted on the pooled curve.
 * The validation split plays no part.
 */
import type { ImageCache, XrayRecord } from '../data/index.ts';
import {
  calibrateTemperature,
  confusionAtThreshold,
  histogramTotals,
  mergeScoreHistograms,
  mergeTemperatureCurves,
  parseThresholdRule,
  scoreHistogram,
  temperatureCurve,
  thresholdFromHistogram,
  type ScoreHistogram,
  type TemperatureCalibration,
  type TemperatureCurve,
  type ThresholdChoice,
} from '../metrics/index.ts';
import type { tf } from '../tf/tf.ts';
import { predictRecords } from '../training/predict.ts';
import type { Preprocessing } from '../training/preprocessing.ts';

export interface CalibrationInfo {
  rule: string;
  bins: number;
  hospitals: { clientId: string; images: number; pneumonia: number }[];
  images: number;
  pneumonia: number;
  /** Recall and specificity of the chosen threshold on the pooled calibration splits. */
  recall: number;
  specificity: number;
  threshold: ThresholdChoice;
  /** Temperature scaling fitted on the pooled NLL curves; null without images. */
  temperature: TemperatureCalibration | null;
}

export async function calibrateOnHospitals(
  model: tf.LayersModel,
  splits: readonly { clientId: string; records: readonly XrayRecord[] }[],
  settings: { rule: string; bins: number },
  preprocessing: Preprocessing,
  cache?: ImageCache,
): Promise<CalibrationInfo> {
  if (splits.length === 0) throw new Error('no hospital holds a calibration split');
  const histograms: ScoreHistogram[] = [];
  const curves: TemperatureCurve[] = [];
  for (const split of splits) {
    const p = await predictRecords(model, split.records, preprocessing, { cache });
    histograms.push(scoreHistogram(p.labels, p.probabilities, settings.bins));
    curves.push(temperatureCurve(p.labels, p.probabilities));
  }
  const pooled = mergeScoreHistograms(histograms);
  const threshold = thresholdFromHistogram(pooled, parseThresholdRule(settings.rule));
  const { positives, negatives } = histogramTotals(pooled);
  // A min-recall threshold is a bin edge, so the counts at it are exact.
  const at = confusionAtThreshold(pooled, threshold.threshold);
  return {
    rule: settings.rule,
    bins: settings.bins,
    hospitals: splits.map((s, i) => {
      const t = histogramTotals(histograms[i]);
      return { clientId: s.clientId, images: t.positives + t.negatives, pneumonia: t.positives };
    }),
    images: positives + negatives,
    pneumonia: positives,
    recall: at && positives > 0 ? at.tp / positives : NaN,
    specificity: at && negatives > 0 ? at.tn / negatives : NaN,
    threshold,
    temperature: calibrateTemperature(mergeTemperatureCurves(curves), {
      hospitals: splits.length,
    }),
  };
}
