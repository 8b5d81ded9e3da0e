/**
 * The choice rule of docs/robust-protocol.md as code, so the report applies exactly what was
 * written before the runs: screening against the baseline, and the ensemble condition.
 */
export interface ArmMeasures {
  logLoss: number;
  logLossInterval: [number, number];
  meanAuc: number;
  meanSpecificity: number;
  /** NORMAL images of the validation split (the n of mSpec-C's interval). */
  normals: number;
  /**
   * Mean specificity over the conditions the strong augmentation does not imitate (JPEG,
   * down-sampling, burnt-in marker, each at its 3 severities): protocol change 5 (c).
   */
  unimitatedSpecificity: number;
}

/** The corruptions of change 5 (c). */
export const UNIMITATED_CORRUPTIONS = ['jpeg', 'downsample', 'marker'] as const;

/** 95% Wilson interval of a proportion p observed on n trials. */
export function wilsonInterval(p: number, n: number, z = 1.959964): [number, number] {
  if (n <= 0) return [0, 1];
  const denominator = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denominator;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** Half-width of mSpec-C's interval (protocol change of 2026-12-03). */
export function meanSpecificityHalfWidth(m: ArmMeasures): number {
  const [lo, hi] = wilsonInterval(m.meanSpecificity, m.normals);
  return (hi - lo) / 2;
}

export interface ScreenVerdict {
  passes: boolean;
  /** mSpec-C an arm must exceed. */
  specificityBar: number;
  /** Clean log-loss an arm must not exceed. */
  logLossBar: number;
  reasons: string[];
}

/** Rule 1: mSpec-C above the baseline's by more than its half-width, log-loss not worse. */
export function screen(arm: ArmMeasures, baseline: ArmMeasures): ScreenVerdict {
  const specificityBar = baseline.meanSpecificity + meanSpecificityHalfWidth(baseline);
  const logLossBar = baseline.logLossInterval[1];
  const reasons: string[] = [];
  if (!(arm.meanSpecificity > specificityBar))
    reasons.push(
      `mSpec-C ${arm.meanSpecificity.toFixed(4)} is not above ${specificityBar.toFixed(4)}`,
    );
  if (!(arm.logLoss <= logLossBar))
    reasons.push(`log-loss ${arm.logLoss.toFixed(4)} is above ${logLossBar.toFixed(4)}`);
  return { passes: reasons.length === 0, specificityBar, logLossBar, reasons };
}

/** Rule 3: an ensemble replaces its best member if mAUC-C is higher and log-loss not worse. */
export function ensembleBeats(ensemble: ArmMeasures, bestMember: ArmMeasures): boolean {
  return ensemble.meanAuc > bestMember.meanAuc && ensemble.logLoss <= bestMember.logLoss;
}

/**
 * Protocol change 3: a 128 px finalist replaces the shipped model if its clean log-loss is not
 * above the baseline's upper bound and its mAUC-C is not below the baseline's.
 */
export function finalistShips(finalist: ArmMeasures, baseline: ArmMeasures): ScreenVerdict {
  const logLossBar = baseline.logLossInterval[1];
  const reasons: string[] = [];
  if (!(finalist.logLoss <= logLossBar))
    reasons.push(`log-loss ${finalist.logLoss.toFixed(4)} is above ${logLossBar.toFixed(4)}`);
  if (!(finalist.meanAuc >= baseline.meanAuc))
    reasons.push(`mAUC-C ${finalist.meanAuc.toFixed(4)} is below ${baseline.meanAuc.toFixed(4)}`);
  return { passes: reasons.length === 0, specificityBar: NaN, logLossBar, reasons };
}

/**
 * Protocol change 5: an arm that passed the screen replaces the shipped model (an ensemble)
 * only if its mAUC-C is not below the shipped one's, its clean log-loss not above the shipped
 * one's upper bound, and its specificity on the conditions it did not train on not below the
 * shipped one's by more than the shipped one's mSpec-C half-width.
 */
export function replacesShipped(arm: ArmMeasures, shipped: ArmMeasures): ScreenVerdict {
  const logLossBar = shipped.logLossInterval[1];
  const specificityBar = shipped.unimitatedSpecificity - meanSpecificityHalfWidth(shipped);
  const reasons: string[] = [];
  if (!(arm.meanAuc >= shipped.meanAuc))
    reasons.push(`mAUC-C ${arm.meanAuc.toFixed(4)} is below ${shipped.meanAuc.toFixed(4)}`);
  if (!(arm.logLoss <= logLossBar))
    reasons.push(`log-loss ${arm.logLoss.toFixed(4)} is above ${logLossBar.toFixed(4)}`);
  if (!(arm.unimitatedSpecificity >= specificityBar))
    reasons.push(
      `specificity on JPEG/down-sampling/marker ${arm.unimitatedSpecificity.toFixed(4)} is below ${specificityBar.toFixed(4)}`,
    );
  return { passes: reasons.length === 0, specificityBar, logLossBar, reasons };
}
