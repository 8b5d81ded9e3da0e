export type { ConfusionMatrix, Estimate, EvaluationReport, PointEstimates } from './types.ts';
export { pointEstimates } from './types.ts';
export { computeMetrics, type ComputeMetricsOptions } from './evaluate.ts';
export { confusionMatrix } from './confusion.ts';
export { wilsonInterval } from './wilson.ts';
export { rocAuc, rocCurve, type RocPoint } from './roc.ts';
export {
  chooseThreshold,
  formatThresholdRule,
  parseThresholdRule,
  type ThresholdChoice,
  type ThresholdRule,
} from './threshold.ts';
export { formatReportTable } from './format.ts';
export { ECE_BINS, probabilisticScores, type ProbabilisticScores } from './probabilistic.ts';
export {
  DEFAULT_HISTOGRAM_BINS,
  confusionAtThreshold,
  histogramTotals,
  mergeScoreHistograms,
  scoreHistogram,
  thresholdFromHistogram,
  type ScoreHistogram,
} from './score-histogram.ts';
export {
  RELIABILITY_BINS,
  TEMPERATURE_GRID,
  calibrateTemperature,
  curveImages,
  curveProblem,
  expectedCalibrationError,
  fitTemperature,
  mergeTemperatureCurves,
  reliabilityAt,
  temperProbability,
  temperatureCurve,
  type ReliabilityBin,
  type TemperatureCalibration,
  type TemperatureCurve,
} from './temperature-scaling.ts';
