/**
 * Robust aggregation under Byzantine hospitals at a tiny size: one `fedxray simulate` per
 * strategy (fedavg, median, trimmed-mean, krum) and attack (none, label-flip, scale, noise),
 * the same seed, data, partition and rounds. Prints a JSON document and a Markdown table.
 *
 *   npx tsx bench/privacy/byzantine.ts --data DIR [--limit 500] [--rounds 4] [--clients 5]
 *     [--size 32] [--width 8] [--strategies fedavg,median,trimmed-mean,krum]
 *     [--attacks none,label-flip,scale,noise] [--alpha A (Dirichlet non-IID; default IID)]
 *     [--val-fraction 0.1]
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { describeMachine, gitCommit } from '../paper/machine-info.ts';

const run = promisify(execFile);
const BIN = new URL('../../bin/fedxray.mjs', import.meta.url).pathname;

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    limit: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '4' },
    clients: { type: 'string', default: '5' },
    size: { type: 'string', default: '32' },
    width: { type: 'string', default: '8' },
    seed: { type: 'string', default: '42' },
    strategies: { type: 'string', default: 'fedavg,median,trimmed-mean,krum' },
    attacks: { type: 'string', default: 'none,label-flip,scale,noise' },
    alpha: { type: 'string' },
    'val-fraction': { type: 'string', default: '0.1' },
  },
});
if (!values.data) throw new Error('--data DIR is required');

/** Which hospitals attack in each arm: one of five, two for label-flip (one barely shows). */
const ALL_ATTACKS: Record<string, [string, string | null]> = {
  none: ['none', null],
  'label-flip': ['label-flip x2', 'hospital-1:label-flip,hospital-2:label-flip'],
  scale: ['scale=-10', 'hospital-2:scale=-10'],
  noise: ['noise=10', 'hospital-2:noise=10'],
};
const ATTACKS: Record<string, string | null> = Object.fromEntries(
  values.attacks!.split(',').map((a) => {
    const found = ALL_ATTACKS[a];
    if (!found) throw new Error(`--attacks: unknown ${a}`);
    return found;
  }),
);

interface Score {
  value: number;
}
interface SimulateJson {
  seconds: number;
  validation: { n: number; accuracy: Score; auc: Score };
}

async function simulate(out: string, extra: string[]): Promise<SimulateJson> {
  const args = [
    BIN,
    'simulate',
    ...['--data', values.data!, '--out', out, '--limit', values.limit!],
    ...['--clients', values.clients!, '--rounds', values.rounds!, '--size', values.size!],
    ...['--width', values.width!, '--batch', '8', '--seed', values.seed!, '--workers', '1'],
    '--json',
    ...['--val-fraction', values['val-fraction']!],
    ...(values.alpha ? ['--alpha', values.alpha] : []),
    ...extra,
  ];
  const { stdout } = await run(process.execPath, args, {
    env: { ...process.env, FEDXRAY_QUIET: '1' },
    maxBuffer: 1 << 26,
  });
  return JSON.parse(stdout) as SimulateJson;
}

const started = performance.now();
const loadStart = loadavg()[0];
const work = await mkdtemp(join(tmpdir(), 'byzantine-'));
const rows: {
  strategy: string;
  attack: string;
  accuracy: number;
  auc: number;
  seconds: number;
  valImages: number;
}[] = [];
try {
  for (const strategy of values.strategies!.split(',')) {
    for (const [attack, plan] of Object.entries(ATTACKS)) {
      const extra = ['--strategy', strategy, ...(plan ? ['--byzantine', plan] : [])];
      const result = await simulate(join(work, `${strategy}-${rows.length}`), extra);
      rows.push({
        strategy,
        attack,
        accuracy: result.validation.accuracy.value,
        auc: result.validation.auc.value,
        seconds: result.seconds,
        valImages: result.validation.n,
      });
      process.stderr.write(`${JSON.stringify(rows.at(-1))}\n`);
    }
  }
} finally {
  await rm(work, { recursive: true, force: true });
}

const machine = {
  ...(await describeMachine()),
  loadAverageStart: loadStart,
  loadAverageEnd: loadavg()[0],
};
const wallSeconds = (performance.now() - started) / 1000;
console.log(
  JSON.stringify(
    { settings: values, attacks: ATTACKS, machine, commit: await gitCommit(), wallSeconds, rows },
    null,
    2,
  ),
);
const attacks = Object.keys(ATTACKS);
const cell = (s: string, a: string): string => {
  const r = rows.find((x) => x.strategy === s && x.attack === a);
  return r ? `${r.accuracy.toFixed(3)} / ${r.auc.toFixed(3)}` : '-';
};
console.log(
  `\nValidation accuracy / AUC after ${values.rounds} rounds (${values.clients} hospitals, ${values.alpha ? `Dirichlet alpha ${values.alpha}` : 'IID'})\n`,
);
console.log(`| strategy | ${attacks.join(' | ')} |`);
console.log(`|---|${attacks.map(() => '---').join('|')}|`);
for (const s of values.strategies!.split(','))
  console.log(`| ${s} | ${attacks.map((a) => cell(s, a)).join(' | ')} |`);
console.log(`\nwall time ${(wallSeconds / 60).toFixed(1)} min`);
