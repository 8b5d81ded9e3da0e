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
}

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
