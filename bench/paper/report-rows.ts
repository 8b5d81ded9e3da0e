/**
 * The rows of a report group: each experiment the plan (or the result files) puts in it, with
 * its stored result, and what the rows have in common.
 */
import type { Experiment, ExperimentPlan, ExperimentSpec, GroupName } from './experiments.ts';
import { specKey, type ExperimentResult } from './results.ts';

/** The rows of a group: the plan's experiments (run or not), else the results that name it. */
export interface Row {
  id: string;
  spec?: ExperimentSpec;
  result?: ExperimentResult;
  /** Set when the stored result was made with other settings than the plan's. */
  stale?: boolean;
}

export function groupRows(
  group: GroupName,
  results: ExperimentResult[],
  plan?: ExperimentPlan,
): Row[] {
  const byId = new Map(results.map((r) => [r.id, r]));
  if (plan) {
    return plan.experiments
      .filter((e: Experiment) => e.groups.includes(group))
      .map((e) => {
        const result = byId.get(e.spec.id);
        return {
          id: e.spec.id,
          spec: e.spec,
          result,
          stale: result ? specKey(result.spec) !== specKey(e.spec) : undefined,
        };
      });
  }
  return results
    .filter((r) => r.groups.includes(group))
    .map((r) => ({ id: r.id, spec: r.spec, result: r }));
}

export function rowTitle(row: Row): string {
  const title = row.result?.title ?? row.spec?.title ?? row.id;
  return row.stale ? `${title} (stale: other settings)` : title;
}

/** The epochs most of the rows' centralised runs were trained for (ties: the first seen). */
export function usualCentralisedEpochs(rows: readonly Row[]): number | undefined {
  const counts = new Map<number, number>();
  for (const r of rows)
    if (r.spec?.kind === 'centralised')
      counts.set(r.spec.settings.epochs, (counts.get(r.spec.settings.epochs) ?? 0) + 1);
  let best: number | undefined;
  for (const [epochs, n] of counts) if (best === undefined || n > counts.get(best)!) best = epochs;
  return best;
}
