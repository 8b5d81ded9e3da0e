/**
 * The progress lines an experiment logs while it trains, each prefixed with its id.
 */
import type { EpochReport } from '../../shared/pipeline/centralised.ts';
import type { TrainProgress } from '../../shared/training/local-train.ts';
import type { ExperimentSpec } from './experiments.ts';

export function fmt(x: number | undefined, digits = 4): string {
  return x === undefined ? '-' : x.toFixed(digits);
}

export interface ExperimentLog {
  /** `[<id>]`, the start of every line. */
  prefix: string;
  log: (message: string) => void;
  /** Training progress, at most one line a minute. */
  progress: (what: string, p: TrainProgress) => void;
  onEpochEnd: (r: EpochReport) => void;
}

export function experimentLog(spec: ExperimentSpec, log: (message: string) => void): ExperimentLog {
  const prefix = `[${spec.id}]`;
  let lastLog = performance.now();
  const progress = (what: string, p: TrainProgress): void => {
    if (performance.now() - lastLog < 60_000) return;
    lastLog = performance.now();
    log(
      `${prefix} ${what} epoch ${p.epoch}/${p.epochs} step ${p.step}/${p.stepsPerEpoch} loss ${p.loss.toFixed(3)} acc ${p.accuracy.toFixed(3)} ${p.imagesPerSecond.toFixed(1)} img/s`,
    );
  };
  const onEpochEnd = (r: EpochReport): void =>
    log(
      `${prefix} epoch ${r.epoch}/${spec.settings.epochs}: train loss ${fmt(r.trainLoss)} acc ${fmt(r.trainAccuracy)}, val loss ${fmt(r.val?.loss)} acc ${fmt(r.val?.accuracy)} auc ${fmt(r.val?.auc)} (${r.seconds.toFixed(1)} s)`,
    );
  return { prefix, log, progress, onEpochEnd };
}
