/**
 * Runner of the recipe study (docs/robust-protocol.md): trains each arm with `fedxray
 * simulate` (per-round checkpoints, so a killed run continues where it stopped), builds the
 * ensemble arms, and scores every model with `fedxray evaluate --corruptions --json` on the
 * seed-42 validation split. One result file per arm in --results; an arm whose result exists
 * is skipped, so the same command run again resumes the study.
 *
 *   npx tsx bench/robust/run.ts --arms strong-64-s42,light-128-s42 [--data DIR]
 *       [--work bench/out/robust] [--results bench/robust/results]
 *       [--model ID=DIR] (score an existing model directory as arm ID instead of training it)
 *       [--evaluation ID=FILE] (take an existing `evaluate --corruptions --json` output)
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { access, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDataset, splitByPatient } from '../../shared/data/index.ts';
import { writeEnsembleDir } from '../../shared/model/ensemble.ts';
import { writeManifest } from '../../shared/cli/data-setup.ts';
import { ARMS, COMMON_SIMULATE_OPTIONS, findArm, type Arm } from './arms.ts';
import type { ArmResult } from './result.ts';

const CLI = join(import.meta.dirname, '..', '..', 'bin', 'fedxray.mjs');
const log = (line: string) => process.stderr.write(`[robust] ${line}\n`);
const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

function pairs(values: string[] | undefined): Map<string, string> {
  const map = new Map<string, string>();
  for (const v of values ?? []) {
    const at = v.indexOf('=');
    if (at <= 0) throw new Error(`expected ID=PATH, got ${v}`);
    map.set(v.slice(0, at), v.slice(at + 1));
  }
  return map;
}

/** Runs the CLI with its stdout to `stdoutFile` and stderr to `logFile`; rejects on failure. */
function runCli(args: string[], logFile: string, stdoutFile?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const logStream = createWriteStream(logFile, { flags: 'a' });
    child.stderr.pipe(logStream);
    child.stdout.pipe(stdoutFile ? createWriteStream(stdoutFile) : logStream);
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`fedxray ${args[0]} exited ${code}; see ${logFile}`)),
    );
  });
}

async function dirBytes(dir: string, files: string[]): Promise<number> {
  let total = 0;
  for (const f of files) total += (await stat(join(dir, f)).catch(() => ({ size: 0 }))).size;
  return total;
}

/** Seconds of training from the model's report (the sum of its rounds). */
async function trainSeconds(modelDir: string): Promise<number | null> {
  try {
    const report = JSON.parse(await readFile(join(modelDir, 'report.json'), 'utf8'));
    const rounds: Array<{ seconds?: number }> = report.training?.roundsDetail ?? [];
    return rounds.length ? rounds.reduce((s, r) => s + (r.seconds ?? 0), 0) : null;
  } catch {
    return null;
  }
}

async function ensureSplit(dataDir: string, work: string): Promise<string> {
  const dir = join(work, 'val42');
  if (await exists(join(dir, 'manifest.csv'))) return dir;
  const { val } = splitByPatient(await loadDataset(dataDir), { valFraction: 0.1, seed: 42 });
  await writeManifest(dir, val, 'val');
  return dir;
}

function simulateArgs(
  arm: Arm & { kind: 'training' },
  dataDir: string,
  split: string,
  armDir: string,
) {
  return [
    'simulate',
    '--data',
    dataDir,
    ...COMMON_SIMULATE_OPTIONS,
    '--size',
    String(arm.size),
    '--seed',
    String(arm.seed),
    // Other seeds would carve another validation split: hold out the seed-42 one explicitly.
    ...(arm.seed === 42 ? [] : ['--val-data', split]),
    ...arm.options,
    '--checkpoint',
    join(armDir, 'checkpoint'),
    '--out',
    join(armDir, 'model'),
  ];
}

/** The arm's model directory, trained or built here unless --model gave one. */
async function modelFor(
  arm: Arm,
  ctx: { dataDir: string; work: string; split: string; models: Map<string, string> },
): Promise<{ dir: string; commands: string[][] }> {
  const armDir = join(ctx.work, arm.id);
  const given = ctx.models.get(arm.id);
  if (arm.kind === 'tta') {
    const dir = given ?? ctx.models.get(arm.base) ?? join(ctx.work, arm.base, 'model');
    if (!(await exists(join(dir, 'model.json')))) throw new Error(`${arm.id} needs ${dir} first`);
    return { dir, commands: [] };
  }
  if (arm.kind === 'ensemble') {
    const members = arm.members.map((m) => ctx.models.get(m) ?? join(ctx.work, m, 'model'));
    const dir = given ?? join(armDir, 'model');
    const commands = [['ensemble', '--members', members.join(','), '--out', dir]];
    if (given) return { dir, commands };
    for (const m of members)
      if (!(await exists(join(m, 'model.json')))) throw new Error(`${arm.id} needs ${m} first`);
    await mkdir(armDir, { recursive: true });
    await writeEnsembleDir(dir, members, { description: arm.description });
    return { dir, commands };
  }
  // The command that makes this arm, recorded even when --model supplied its result.
  const args = simulateArgs(arm, ctx.dataDir, ctx.split, armDir);
  if (given) return { dir: given, commands: [args] };
  const dir = join(armDir, 'model');
  await mkdir(armDir, { recursive: true });
  if (!(await exists(join(dir, 'model.json')))) {
    log(`${arm.id}: training (${join(armDir, 'train.log')})`);
    await runCli(args, join(armDir, 'train.log'));
  }
  return { dir, commands: [args] };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      arms: { type: 'string' },
      data: { type: 'string', default: '../shared/data/chest-xray/train' },
      work: { type: 'string', default: 'bench/out/robust' },
      results: { type: 'string', default: 'bench/robust/results' },
      model: { type: 'string', multiple: true },
      evaluation: { type: 'string', multiple: true },
    },
  });
  const ids =
    !values.arms || values.arms === 'all' ? ARMS.map((a) => a.id) : values.arms.split(',');
  const arms = ids.map(findArm);
  const models = pairs(values.model);
  const evaluations = pairs(values.evaluation);
  await mkdir(values.work, { recursive: true });
  await mkdir(values.results, { recursive: true });
  const split = await ensureSplit(values.data, values.work);
  for (const arm of arms) {
    const resultFile = join(values.results, `${arm.id}.json`);
    if (await exists(resultFile)) {
      log(`${arm.id}: done already (${resultFile})`);
      continue;
    }
    const { dir, commands } = await modelFor(arm, {
      dataDir: values.data,
      work: values.work,
      split,
      models,
    });
    const evalArgs = [
      'evaluate',
      '--model',
      dir,
      '--data',
      split,
      '--corruptions',
      '--json',
      ...(arm.kind === 'tta' ? ['--tta', arm.tta] : []),
    ];
    let evaluation: ArmResult['evaluation'];
    let evalSeconds: number | null = null;
    const given = evaluations.get(arm.id);
    if (given) {
      evaluation = JSON.parse(await readFile(given, 'utf8'));
    } else {
      log(`${arm.id}: evaluating`);
      const out = join(values.work, arm.id, 'evaluation.json');
      await mkdir(join(values.work, arm.id), { recursive: true });
      const started = performance.now();
      await runCli(evalArgs, join(values.work, arm.id, 'evaluate.log'), out);
      evalSeconds = (performance.now() - started) / 1000;
      evaluation = JSON.parse(await readFile(out, 'utf8'));
    }
    const modelJson = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    const result: ArmResult = {
      arm,
      commands: [...commands, evalArgs].map((a) => ['npx', 'fedxray', ...a].join(' ')),
      machine: {
        cpus: cpus().length,
        cpu: cpus()[0]?.model ?? 'unknown',
        memoryGiB: Math.round(totalmem() / 2 ** 30),
      },
      trainSeconds: arm.kind === 'training' ? await trainSeconds(dir) : null,
      evaluateSeconds: evalSeconds,
      modelBytes: modelJson.ensemble
        ? await Promise.all(
            (modelJson.ensemble.members as string[]).map((m) =>
              dirBytes(join(dir, m), ['weights.bin']),
            ),
          ).then((sizes) => sizes.reduce((s, x) => s + x, 0))
        : await dirBytes(dir, ['weights.bin']),
      modelDir: dir,
      evaluation,
      finishedAt: new Date().toISOString(),
    };
    await writeFile(`${resultFile}.tmp`, JSON.stringify(result, null, 2) + '\n');
    await rename(`${resultFile}.tmp`, resultFile);
    log(
      `${arm.id}: AUC ${evaluation.auc.toFixed(4)}, log-loss ${evaluation.logLoss.toFixed(4)}, mAUC-C ${evaluation.corruption?.meanAuc.toFixed(4)}, mSpec-C ${evaluation.corruption?.meanSpecificity.toFixed(4)}`,
    );
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`failed: ${(error as Error).message}`);
    process.exit(1);
  },
);
