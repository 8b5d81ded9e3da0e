/**
 * Report of the recipe study: reads bench/robust/results/<arm>.json, applies the choice rule
 * of docs/robust-protocol.md (rule.ts) and prints one JSON object and a markdown table; with
 * --write it also writes docs/results/robust.md.
 *
 *   npx tsx bench/robust/report.ts [--results bench/robust/results] [--write]
 */
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ARMS } from './arms.ts';
import type { ArmResult } from './result.ts';
import { formatSeedSpreads, seedSpreads } from './seed-spread.ts';
import {
  ensembleBeats,
  finalistShips,
  meanSpecificityHalfWidth,
  replacesShipped,
  screen,
  UNIMITATED_CORRUPTIONS,
  type ArmMeasures,
} from './rule.ts';

const BASELINE = 'light-64-s42';

export function measures(r: ArmResult): ArmMeasures {
  const e = r.evaluation;
  if (!e.corruption) throw new Error(`${r.arm.id} has no corruption suite`);
  return {
    logLoss: e.logLoss,
    logLossInterval: e.ci95.logLoss,
    meanAuc: e.corruption.meanAuc,
    meanSpecificity: e.corruption.meanSpecificity,
    normals: e.confusion.tn + e.confusion.fp,
    unimitatedSpecificity: mean(
      e.corruption.scores
        .filter((c) => (UNIMITATED_CORRUPTIONS as readonly string[]).includes(c.corruption))
        .map((c) => c.specificity),
    ),
  };
}

function mean(values: readonly number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}

export interface ArmRow {
  id: string;
  stage: string;
  description: string;
  auc: number;
  aucInterval: [number, number];
  logLoss: number;
  logLossInterval: [number, number];
  brier: number;
  ece: number;
  accuracy: number;
  recall: number;
  specificity: number;
  meanAuc: number;
  meanSpecificity: number;
  meanSpecificityHalfWidth: number;
  meanRecall: number;
  groups: Record<string, number>;
  trainMinutes: number | null;
  evaluateMinutes: number | null;
  megabytes: number;
  machine: string;
  verdict: string;
}

export function buildRows(results: readonly ArmResult[]): ArmRow[] {
  const baseline = results.find((r) => r.arm.id === BASELINE);
  const byId = new Map(results.map((r) => [r.arm.id, r]));
  return results.map((r) => {
    const e = r.evaluation;
    const m = measures(r);
    let verdict = '';
    if (r.arm.stage === 'baseline') verdict = 'baseline';
    else if (r.arm.stage === 'screen' && baseline) {
      const v = screen(m, measures(baseline));
      verdict = v.passes ? 'passes' : `fails: ${v.reasons.join('; ')}`;
      // From arms.ts, not the result file: an arm's challenge can be written after it started.
      const current = ARMS.find((a) => a.id === r.arm.id);
      const shipped = current?.kind === 'training' ? current.challenges : undefined;
      const incumbent = shipped ? byId.get(shipped) : undefined;
      if (v.passes && shipped) {
        const c = incumbent ? replacesShipped(m, measures(incumbent)) : null;
        verdict += !c
          ? `; ${shipped} not scored`
          : c.passes
            ? `; replaces ${shipped} (change 5)`
            : `; does not replace ${shipped} (change 5): ${c.reasons.join('; ')}`;
      }
    } else if (r.arm.kind === 'ensemble') {
      const members = r.arm.members.map((id) => byId.get(id)).filter((x) => x !== undefined);
      const best = members.sort((a, b) => measures(b).meanAuc - measures(a).meanAuc)[0];
      verdict = best
        ? ensembleBeats(m, measures(best))
          ? `beats its best member ${best.arm.id}`
          : `does not beat its best member ${best.arm.id}`
        : 'members missing';
    } else if (r.arm.stage === 'finalist' && baseline) {
      const v = finalistShips(m, measures(baseline));
      verdict = v.passes ? 'finalist: ships' : `finalist, does not ship: ${v.reasons.join('; ')}`;
    } else verdict = 'finalist';
    return {
      id: r.arm.id,
      stage: r.arm.stage,
      description: r.arm.description,
      auc: e.auc,
      aucInterval: e.ci95.auc,
      logLoss: e.logLoss,
      logLossInterval: e.ci95.logLoss,
      brier: e.brier,
      ece: e.ece,
      accuracy: e.accuracy,
      recall: e.recall,
      specificity: e.specificity,
      meanAuc: m.meanAuc,
      meanSpecificity: m.meanSpecificity,
      meanSpecificityHalfWidth: meanSpecificityHalfWidth(m),
      meanRecall: e.corruption?.meanRecall ?? NaN,
      groups: Object.fromEntries(e.groups.map((g) => [g.group, g.correct])),
      trainMinutes: r.trainSeconds === null ? null : r.trainSeconds / 60,
      evaluateMinutes: r.evaluateSeconds === null ? null : r.evaluateSeconds / 60,
      megabytes: r.modelBytes / 1e6,
      machine: `${r.machine.cpus} x ${r.machine.cpu}, ${r.machine.memoryGiB} GiB`,
      verdict,
    };
  });
}

const f = (x: number, d = 4) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const ci = (x: [number, number]) => `[${f(x[0])}, ${f(x[1])}]`;

export function formatReport(rows: readonly ArmRow[], results: readonly ArmResult[]): string {
  const lines = [
    '| arm | AUC [95%] | log-loss [95%] | Brier | ECE | acc / recall / spec | mAUC-C | mSpec-C (± half-width) | viral recall | NORMAL2 spec | train min | MB | rule |',
    '|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map(
      (r) =>
        `| ${r.id} | ${f(r.auc)} ${ci(r.aucInterval)} | ${f(r.logLoss)} ${ci(r.logLossInterval)} | ${f(r.brier)} | ${f(r.ece)} | ${f(r.accuracy, 3)} / ${f(r.recall, 3)} / ${f(r.specificity, 3)} | ${f(r.meanAuc)} | ${f(r.meanSpecificity)} (± ${f(r.meanSpecificityHalfWidth, 3)}) | ${f(r.groups.viral ?? NaN, 3)} | ${f(r.groups['normal-NORMAL2'] ?? NaN, 3)} | ${r.trainMinutes === null ? '–' : r.trainMinutes.toFixed(0)} | ${r.megabytes.toFixed(1)} | ${r.verdict} |`,
    ),
    '',
    'Specificity at the model threshold under each corruption at severity 3 (the hardest):',
    '',
  ];
  const names = [
    ...new Set(
      results.flatMap((r) => r.evaluation.corruption?.scores.map((s) => s.corruption) ?? []),
    ),
  ];
  lines.push(`| arm | ${names.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`);
  for (const r of results) {
    const at3 = (name: string) =>
      r.evaluation.corruption?.scores.find((s) => s.corruption === name && s.severity === 3)
        ?.specificity ?? NaN;
    lines.push(`| ${r.arm.id} | ${names.map((n) => f(at3(n), 3)).join(' | ')} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      results: { type: 'string', default: 'bench/robust/results' },
      write: { type: 'boolean', default: false },
    },
  });
  const results: ArmResult[] = [];
  for (const arm of ARMS) {
    const file = join(values.results, `${arm.id}.json`);
    const present = await access(file).then(
      () => true,
      () => false,
    );
    if (present) results.push(JSON.parse(await readFile(file, 'utf8')) as ArmResult);
  }
  const rows = buildRows(results);
  const table = formatReport(rows, results);
  const spreads = seedSpreads(results);
  const spreadTable = formatSeedSpreads(spreads);
  process.stdout.write(
    JSON.stringify({ arms: rows, seedSpreads: spreads }, null, 2) +
      '\n\n' +
      table +
      '\n\n' +
      spreadTable +
      '\n',
  );
  if (values.write) {
    await mkdir('docs/results', { recursive: true });
    const missing = ARMS.filter((a) => !results.some((r) => r.arm.id === a.id)).map((a) => a.id);
    await writeFile(
      'docs/results/robust.md',
      [
        '# Recipe study (issue 13): every arm',
        '',
        'Generated by `npx tsx bench/robust/report.ts --write` from bench/robust/results/. The',
        'rule is docs/robust-protocol.md. These are our measures on the seed-42 patient-level',
        'validation split of train (522 images, 134 NORMAL), **not the official test split**.',
        '',
        table,
        '',
        '## Spread over training seeds',
        '',
        'Each recipe run with more than one seed (same split, same options): mean ± sample',
        'standard deviation (range) of each measure. This is the run-to-run variation of the',
        "recipe, which one arm's bootstrap interval does not include.",
        '',
        spreadTable,
        '',
        missing.length ? `Not run yet: ${missing.join(', ')}.` : 'Every arm has run.',
        '',
      ].join('\n'),
    );
  }
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then((code) => process.exit(code));
}
