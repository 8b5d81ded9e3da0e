/**
 * The paper suite's options: the usage text, and argv parsed into the plan, the selected
 * experiments and the settings of the run.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  buildPlan,
  selectExperiments,
  type Experiment,
  type ExperimentPlan,
} from './experiments.ts';
import { isProfileName, PROFILE_NAMES, resolveProfile, type ProfileOverrides } from './profiles.ts';

export const USAGE = `npx tsx bench/paper/run.ts --profile cpu|paper|tiny --data DIR [options]
  --only LIST       groups (table2, table3, federate, curves) and/or experiment ids, comma-separated;
                    a trailing * matches an id prefix (default: everything)
  --results DIR     result folder (default docs/results/<profile>; bench/out/paper/<profile>
                    for tiny; bench/out/paper/dry-run-<profile> with --dry-run)
  --dry-run         the profile's whole experiment list at tiny scale (32 px, width 8,
                    2 epochs, 2 rounds x 1 local epoch, 40 images): checks the pipeline
  --plan            list the experiments, what is done, and estimated wall times; no training
  --report-only     rewrite the Markdown reports and charts from the result files
  --verify          rerun the selected experiments that have results (into a temporary folder,
                    one at a time, with the threads each was made with) and compare every
                    metric and per-step value with the stored ones; exit 1 unless all agree
  --force           rerun experiments that already have results
  --jobs N          experiments at once, each in its own process (default 1; a federation
                    takes --workers of them)
  --workers N       threads training hospitals at once (default: cores, at most the hospitals;
                    1 on a native backend)
  --threads N       data-parallel threads for a centralised or local-only experiment: each batch
                    is split between them and their gradients summed (default 1). Models with
                    BatchNorm always train on one thread (their statistics need the whole batch)
  --limit N --size S --width W --epochs E --rounds T --local-epochs E --batch B
                    override the profile (changes the settings stored with each result)
  --backend B       wasm | cpu | tensorflow (default: the fastest that loads)
  --save-models DIR also save each trained model as a fedxray model directory DIR/<id>/`;

export class UsageError extends Error {}

export interface SuiteOptions {
  plan: ExperimentPlan;
  selected: Experiment[];
  dataDir?: string;
  resultsDir: string;
  force: boolean;
  showPlan: boolean;
  reportOnly: boolean;
  verify: boolean;
  jobs: number;
  workers?: number;
  threads: number;
  backend?: string;
  modelsDir?: string;
  /** Internal: run exactly this experiment (a child process of --jobs). */
  id?: string;
  argv: string[];
}

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

function int(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer >= ${min}, got "${value}"`);
  return n;
}

export function parseOptions(argv: string[]): SuiteOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        profile: { type: 'string' },
        data: { type: 'string' },
        only: { type: 'string' },
        results: { type: 'string' },
        'dry-run': { type: 'boolean' },
        plan: { type: 'boolean' },
        'report-only': { type: 'boolean' },
        verify: { type: 'boolean' },
        force: { type: 'boolean' },
        jobs: { type: 'string' },
        workers: { type: 'string' },
        threads: { type: 'string' },
        limit: { type: 'string' },
        size: { type: 'string' },
        width: { type: 'string' },
        epochs: { type: 'string' },
        rounds: { type: 'string' },
        'local-epochs': { type: 'string' },
        batch: { type: 'string' },
        backend: { type: 'string' },
        'save-models': { type: 'string' },
        id: { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const v = parsed.values;
  if (v.help) throw new UsageError('');
  const name = v.profile;
  if (name === undefined || !isProfileName(name))
    throw new UsageError(`--profile must be one of ${PROFILE_NAMES.join(', ')}`);
  const dryRun = v['dry-run'] ?? false;
  const overrides: ProfileOverrides = {
    limit: int('limit', v.limit, 4),
    inputSize: int('size', v.size, 32),
    width: int('width', v.width, 4),
    centralisedEpochs: int('epochs', v.epochs, 1),
    rounds: int('rounds', v.rounds, 1),
    localEpochs: int('local-epochs', v['local-epochs'], 1),
    batchSize: int('batch', v.batch, 1),
  };
  const profile = resolveProfile(name, { dryRun, overrides });
  const plan = buildPlan(profile);
  const only = (v.only ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  let selected: Experiment[];
  try {
    selected = v.id !== undefined ? selectExperiments(plan, [v.id]) : selectExperiments(plan, only);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const defaultResults = dryRun
    ? `bench/out/paper/dry-run-${name}`
    : name === 'tiny'
      ? 'bench/out/paper/tiny'
      : `docs/results/${name}`;
  return {
    plan,
    selected,
    dataDir: v.data,
    resultsDir: v.results ?? `${REPO}${defaultResults}`,
    force: v.force ?? false,
    showPlan: v.plan ?? false,
    reportOnly: v['report-only'] ?? false,
    verify: v.verify ?? false,
    jobs: int('jobs', v.jobs, 1) ?? 1,
    workers: int('workers', v.workers, 1),
    threads: int('threads', v.threads, 1) ?? 1,
    backend: v.backend,
    modelsDir: v['save-models'],
    id: v.id,
    argv,
  };
}
