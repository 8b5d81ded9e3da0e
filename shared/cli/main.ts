import { ACCEPT_HELP, acceptCommand } from './commands/accept.ts';
import { BENCH_HELP, benchCommand } from './commands/bench.ts';
import { DIAGNOSE_HELP, diagnoseCommand } from './commands/diagnose.ts';
import { ENSEMBLE_HELP, ensembleCommand } from './commands/ensemble.ts';
import { EVALUATE_HELP, evaluateCommand } from './commands/evaluate.ts';
import { EXPORT_HELP, exportCommand } from './commands/export.ts';
import { MODELS_HELP, modelsCommand } from './commands/models.ts';
import { PREDICT_HELP, predictCommand } from './commands/predict.ts';
import { ROUNDS_HELP, roundsCommand } from './commands/rounds.ts';
import { SIMULATE_HELP, simulateCommand } from './commands/simulate.ts';
import { SPLIT_HELP, splitCommand } from './commands/split.ts';
import { TRAIN_HELP, trainCommand } from './commands/train.ts';
import { UsageError } from './options.ts';

interface Command {
  help: string;
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  models: { help: MODELS_HELP, run: modelsCommand },
  split: { help: SPLIT_HELP, run: splitCommand },
  train: { help: TRAIN_HELP, run: trainCommand },
  simulate: { help: SIMULATE_HELP, run: simulateCommand },
  evaluate: { help: EVALUATE_HELP, run: evaluateCommand },
  ensemble: { help: ENSEMBLE_HELP, run: ensembleCommand },
  predict: { help: PREDICT_HELP, run: predictCommand },
  export: { help: EXPORT_HELP, run: exportCommand },
  diagnose: { help: DIAGNOSE_HELP, run: diagnoseCommand },
  rounds: { help: ROUNDS_HELP, run: roundsCommand },
  accept: { help: ACCEPT_HELP, run: acceptCommand },
  bench: { help: BENCH_HELP, run: benchCommand },
};

function usage(): string {
  return [
    'fedxray: federated pneumonia diagnosis from chest X-rays (FL-SE-ResNet-GN)',
    '',
    'Usage: fedxray <command> [options]    (fedxray <command> --help for details)',
    '',
    ...Object.values(COMMANDS).map((c) => c.help),
  ].join('\n');
}

/** Runs one CLI command and returns its exit code: 0 ok, 1 failure, 2 usage error. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`fedxray: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help + '\n');
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`fedxray ${name}: ${error.message}\n\n${command.help}\n`);
      return 2;
    }
    process.stderr.write(`fedxray ${name}: ${(error as Error).message}\n`);
    if (process.env.FEDXRAY_DEBUG === '1') process.stderr.write(`${(error as Error).stack}\n`);
    return 1;
  }
}
