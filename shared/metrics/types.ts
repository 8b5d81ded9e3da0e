/** A point estimate with its 95% confidence interval. */
export interface Estimate {
  value: number;
  ci95: [number, number];
}

export interface ConfusionMatrix {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

/**
 * Binary evaluation (PNEUMONIA = positive class, label 1).
 *
 * Undefined quantities (a ratio whose denominator is 0, e.g. precision with no predicted
 * positives, or AUC when one class is absent) are reported as `value: 0` with the
 * uninformative interval `ci95: [0, 1]`, so the report always serialises to valid JSON.
 * The confusion matrix tells such a 0 apart from a real one.
 */
export interface EvaluationReport {
  n: number;
  threshold: number;
  accuracy: Estimate;
  precision: Estimate;
  /** Sensitivity. */
  recall: Estimate;
  specificity: Estimate;
  f1: Estimate;
  auc: Estimate;
  confusion: ConfusionMatrix;
  ciMethod: string;
}

/** The estimate reported for an undefined quantity (see {@link EvaluationReport}). */
export function undefinedEstimate(): Estimate {
  return { value: 0, ci95: [0, 1] };
}

/** The headline figures of a report as plain numbers (the point estimates, no intervals). */
export interface PointEstimates {
  accuracy: number;
  precision: number;
  recall: number;
  specificity: number;
  f1: number;
  auc: number;
}

export function pointEstimates(report: EvaluationReport): PointEstimates {
  return {
    accuracy: report.accuracy.value,
    precision: report.precision.value,
    recall: report.recall.value,
    specificity: report.specificity.value,
    f1: report.f1.value,
    auc: report.auc.value,
  };
}
