import { parseModelMetrics } from '../../../shared/protocol/stored-metrics.ts';

/**
 * Convergence check of a run: stop when the hospitals' weighted validation loss has not
 * improved by at least `minDelta` for `patience` rounds in a row. patience 0 turns it off.
 */
export class EarlyStopping {
  private best = Number.POSITIVE_INFINITY;
  private stale = 0;

  constructor(
    private readonly patience: number,
    private readonly minDelta: number,
  ) {}

  /** Records a round's validation loss (undefined when no hospital could evaluate); true = stop. */
  observe(loss: number | undefined): boolean {
    if (this.patience <= 0 || loss === undefined || !Number.isFinite(loss)) return false;
    if (loss < this.best - this.minDelta) {
      this.best = loss;
      this.stale = 0;
      return false;
    }
    this.stale++;
    return this.stale >= this.patience;
  }
}

/** The weighted validation loss stored in a model version's metrics, if any. */
export function validationLossOf(metrics: unknown): number | undefined {
  return parseModelMetrics(metrics).validation?.loss;
}
