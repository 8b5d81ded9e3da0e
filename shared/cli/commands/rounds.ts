import { readFile } from 'node:fs/promises';
import { AggregatorClient, type StartRunBody } from '../../client/aggregator.ts';
import { numberOpt, parseCommandArgs, stringOpt, UsageError, type ParsedArgs } from '../options.ts';
import { followRun } from '../follow-run.ts';
import { roundTable, RunWatchView } from '../run-watch.ts';

export const ROUNDS_HELP = `fedxray rounds start --aggregator URL --token T [--json FILE] [settings]
  Starts a federated training run on a running aggregator and prints its id. Settings come
  from --json FILE (a POST /rounds body), then these flags: --rounds N, --architecture A,
  --input-size S, --width W, --local-epochs E, --batch-size B, --learning-rate LR,
  --min-hospitals M, --threshold-rule R, --seed N, --no-promote.
fedxray rounds watch ID --aggregator URL [--token T]
  Follows a run live (GET /rounds/{id}/events) until it ends, then prints a table per round.
  Exit code 0 when the run completed, 1 when it failed or was cancelled.
  --aggregator and --token default to FEDXRAY_AGGREGATOR and FEDXRAY_TOKEN.`;

const SETTING_FLAGS = {
  rounds: { type: 'string' },
  architecture: { type: 'string' },
  'input-size': { type: 'string' },
  width: { type: 'string' },
  'local-epochs': { type: 'string' },
  'batch-size': { type: 'string' },
  'learning-rate': { type: 'string' },
  'min-hospitals': { type: 'string' },
  'threshold-rule': { type: 'string' },
  seed: { type: 'string' },
  'no-promote': { type: 'boolean' },
} as const;

const CONNECTION_FLAGS = {
  aggregator: { type: 'string' },
  token: { type: 'string' },
} as const;

export async function roundsCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'start') return startRun(rest);
  if (sub === 'watch') return watchRun(rest);
  throw new UsageError(`rounds needs start or watch, got ${sub ? `"${sub}"` : 'nothing'}`);
}

function client(args: ParsedArgs, needsToken: boolean): AggregatorClient {
  const baseUrl = stringOpt(args, 'aggregator', process.env.FEDXRAY_AGGREGATOR ?? '');
  if (!baseUrl) throw new UsageError('--aggregator is required (or FEDXRAY_AGGREGATOR)');
  const token = stringOpt(args, 'token', process.env.FEDXRAY_TOKEN ?? '');
  if (needsToken && !token) throw new UsageError('--token is required (or FEDXRAY_TOKEN)');
  return new AggregatorClient({ baseUrl, token: token || undefined });
}

/** The POST /rounds body: --json FILE, then the flags over it (the aggregator checks it). */
export async function runSettings(args: ParsedArgs): Promise<StartRunBody> {
  const file = args.values.json;
  let body: Record<string, unknown> = {};
  if (typeof file === 'string') {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new UsageError(`--json ${file} must hold a JSON object (a POST /rounds body)`);
    }
    body = parsed as Record<string, unknown>;
  }
  const integer = (flag: string, key: string, min = 0) => {
    if (args.values[flag] !== undefined)
      body[key] = numberOpt(args, flag, 0, { integer: true, min });
  };
  integer('rounds', 'rounds', 1);
  integer('input-size', 'inputSize', 32);
  integer('width', 'width', 1);
  integer('local-epochs', 'localEpochs', 1);
  integer('batch-size', 'batchSize', 1);
  integer('min-hospitals', 'minHospitals', 1);
  integer('seed', 'seed');
  if (args.values['learning-rate'] !== undefined) {
    body.learningRate = numberOpt(args, 'learning-rate', 0, { min: 0 });
  }
  if (typeof args.values.architecture === 'string') body.architecture = args.values.architecture;
  if (typeof args.values['threshold-rule'] === 'string') {
    body.thresholdRule = args.values['threshold-rule'];
  }
  if (args.values['no-promote'] === true) body.promote = false;
  return body as StartRunBody;
}

async function startRun(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, {
    ...CONNECTION_FLAGS,
    ...SETTING_FLAGS,
    json: { type: 'string' },
  });
  const id = await client(args, true).startRun(await runSettings(args));
  process.stdout.write(`${id}\n`);
  return 0;
}

async function watchRun(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, CONNECTION_FLAGS, true);
  const [id, ...extra] = args.positionals;
  if (!id || extra.length > 0) throw new UsageError('rounds watch needs one run id');
  const aggregator = client(args, false);
  const view = new RunWatchView(
    (text) => process.stdout.write(text),
    process.stdout.isTTY === true,
  );
  const run = await followRun(aggregator, id, {
    show: (event) => view.show(event),
    note: (message) => process.stderr.write(`${message}\n`),
  });
  process.stdout.write(`\n${roundTable(run)}`);
  if (run.status !== 'completed' && run.failureReason) {
    process.stdout.write(`${run.status}: ${run.failureReason}\n`);
  }
  return run.status === 'completed' ? 0 : 1;
}
