/**
 * `--verify`: reruns stored results and compares the numbers, the check a reviewer makes.
 * Training here is deterministic for a seed (seeded initialisation, shuffling, augmentation and
 * dropout; one thread, or a fixed number of data-parallel threads), so a rerun on the same data
 * with the same code should give the same metrics, not merely close ones.
 */
import type { ExperimentResult } from './results.ts';

/** What is compared: every headline metric, the validation loss and the per-step curve. */
export interface VerifiedValue {
  what: string;
  stored: number;
  rerun: number;
  same: boolean;
}

export interface Verification {
  id: string;
  values: VerifiedValue[];
  /** Every value within `tolerance`. */
  reproduced: boolean;
  storedWallSeconds: number;
  rerunWallSeconds: number;
}

const METRICS = ['accuracy', 'precision', 'recall', 'specificity', 'f1', 'auc'] as const;

/** Compares a rerun with the stored result; `tolerance` is absolute (default: exact to 1e-9). */
export function compareResults(
  stored: ExperimentResult,
  rerun: ExperimentResult,
  tolerance = 1e-9,
): Verification {
  const values: VerifiedValue[] = [];
  const add = (what: string, a: number | undefined, b: number | undefined): void => {
    const x = a ?? Number.NaN;
    const y = b ?? Number.NaN;
    values.push({ what, stored: x, rerun: y, same: Math.abs(x - y) <= tolerance });
  };
  for (const m of METRICS) add(m, stored.metrics[m].value, rerun.metrics[m].value);
  add('validation loss', stored.valLoss, rerun.valLoss);
  add('threshold', stored.threshold.threshold, rerun.threshold.threshold);
  const steps = Math.max(stored.history.length, rerun.history.length);
  for (let i = 0; i < steps; i++) {
    const label = `${stored.stepLabel} ${i + 1}`;
    add(`${label} train loss`, stored.history[i]?.trainLoss, rerun.history[i]?.trainLoss);
    add(`${label} val accuracy`, stored.history[i]?.valAccuracy, rerun.history[i]?.valAccuracy);
  }
  return {
    id: stored.id,
    values,
    reproduced: values.every((v) => v.same),
    storedWallSeconds: stored.wallSeconds,
    rerunWallSeconds: rerun.wallSeconds,
  };
}

/** A Markdown table per experiment: headline values, and any value that differs. */
export function formatVerification(v: Verification): string {
  const shown = v.values.filter(
    (x, i) => i < METRICS.length + 2 || !x.same || i >= v.values.length - 2,
  );
  const fmt = (x: number): string => (Number.isNaN(x) ? '-' : x.toFixed(6));
  return [
    `### ${v.id}: ${v.reproduced ? 'reproduced' : 'DIFFERS'}`,
    '',
    '| value | stored | rerun | same |',
    '|---|---:|---:|---|',
    ...shown.map(
      (x) => `| ${x.what} | ${fmt(x.stored)} | ${fmt(x.rerun)} | ${x.same ? 'yes' : 'NO'} |`,
    ),
    '',
    `${v.values.filter((x) => x.same).length} of ${v.values.length} values the same ` +
      `(the ${v.values.length - 8} per-step ones are shown where they differ, and the last step). ` +
      `Wall time: stored ${Math.round(v.storedWallSeconds)} s, rerun ${Math.round(v.rerunWallSeconds)} s.`,
  ].join('\n');
}
