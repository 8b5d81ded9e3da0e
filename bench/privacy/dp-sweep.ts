/**
 * Validation accuracy and AUC against epsilon for DP-FedAvg at a tiny size: one `fedxray
 * simulate` per noise multiplier (and one without DP), the same seed, data and rounds. Prints a
 * JSON document and a Markdown table.
 *
 *   npx tsx bench/privacy/dp-sweep.ts --data DIR [--limit 600] [--rounds 5] [--clients 3]
 *     [--clip 1] [--noise 0,0.3,1,3] [--size 32] [--width 8]
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { epsilonAfterRounds } from '../../shared/privacy/dp-budget.ts';

const run = promisify(execFile);
const BIN = new URL('../../bin/fedxray.mjs', import.meta.url).pathname;

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    limit: { type: 'string', default: '600' },
    rounds: { type: 'string', default: '5' },
    clients: { type: 'string', default: '3' },
    clip: { type: 'string', default: '1' },
    noise: { type: 'string', default: '0,0.3,1,3' },
    size: { type: 'string', default: '32' },
    width: { type: 'string', default: '8' },
    seed: { type: 'string', default: '42' },
  },
});
if (!values.data) throw new Error('--data DIR is required');

interface Score {
  value: number;
}
interface SimulateJson {
  seconds: number;
  validation: { n: number; accuracy: Score; auc: Score; specificity: Score; recall: Score };
}

async function simulate(out: string, extra: string[]): Promise<SimulateJson> {
  const args = [
    BIN,
    'simulate',
    '--data',
    values.data!,
    '--out',
    out,
    '--limit',
    values.limit!,
    '--clients',
    values.clients!,
    '--rounds',
    values.rounds!,
    '--size',
    values.size!,
    '--width',
    values.width!,
    '--batch',
    '8',
    '--seed',
    values.seed!,
    '--workers',
    '1',
    '--json',
    ...extra,
  ];
  const { stdout } = await run(process.execPath, args, {
    env: { ...process.env, FEDXRAY_QUIET: '1' },
    maxBuffer: 1 << 26,
  });
  return JSON.parse(stdout) as SimulateJson;
}

const rounds = Number(values.rounds);
const clip = Number(values.clip);
const work = await mkdtemp(join(tmpdir(), 'dp-sweep-'));
const rows: Record<string, number | string | null>[] = [];
try {
  const arms: (number | null)[] = [null, ...values.noise!.split(',').map(Number)];
  for (const z of arms) {
    const extra = z === null ? [] : ['--dp-clip', String(clip), '--dp-noise', String(z)];
    const result = await simulate(join(work, `z-${z}`), extra);
    const v = result.validation;
    rows.push({
      arm: z === null ? 'no DP' : `clip ${clip}, z ${z}`,
      noiseMultiplier: z,
      epsilon:
        z === null || z === 0
          ? null
          : epsilonAfterRounds({ sampleRate: 1, noiseMultiplier: z, delta: 1e-5 }, rounds),
      valImages: v.n,
      accuracy: v.accuracy.value,
      auc: v.auc.value,
      recall: v.recall.value,
      specificity: v.specificity.value,
      seconds: result.seconds,
    });
    process.stderr.write(`${JSON.stringify(rows.at(-1))}\n`);
  }
} finally {
  await rm(work, { recursive: true, force: true });
}

const settings = { ...values, delta: 1e-5, sampleRate: 1 };
console.log(JSON.stringify({ settings, rows }, null, 2));
const fmt = (x: number | string | null, digits = 3) =>
  x === null ? '-' : typeof x === 'number' ? x.toFixed(digits) : x;
console.log('\n| arm | epsilon (delta 1e-5) | val accuracy | val AUC | recall | specificity |');
console.log('|---|---|---|---|---|---|');
for (const r of rows)
  console.log(
    `| ${r.arm} | ${r.epsilon === null ? (r.noiseMultiplier === 0 ? 'infinite' : '-') : fmt(r.epsilon, 2)} | ${fmt(r.accuracy)} | ${fmt(r.auc)} | ${fmt(r.recall)} | ${fmt(r.specificity)} |`,
  );
