/**
 * Validates paired binary labels (0 = NORMAL, 1 = PNEUMONIA) and scores; throws RangeError
 * rather than letting a NaN score or a stray label silently skew every metric.
 */
export function checkBinaryInputs(labels: ArrayLike<number>, scores: ArrayLike<number>): void {
  if (labels.length !== scores.length) {
    throw new RangeError(
      `labels and probabilities differ in length (${labels.length} vs ${scores.length})`,
    );
  }
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (label !== 0 && label !== 1) {
      throw new RangeError(`label at index ${i} is ${label}; expected 0 or 1`);
    }
    if (!Number.isFinite(scores[i])) {
      throw new RangeError(`probability at index ${i} is ${scores[i]}; expected a finite number`);
    }
  }
}
