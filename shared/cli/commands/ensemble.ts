import { writeEnsembleDir } from '../../model/ensemble.ts';
import { parseCommandArgs, stringOpt, UsageError } from '../options.ts';
import { info } from '../output.ts';

export const ENSEMBLE_HELP = `fedxray ensemble --members DIR,DIR[,...] --out DIR [--description TEXT]
  Builds one model directory from two or more trained models that read images alike (same
  input size and normalisation): P(PNEUMONIA) is the mean of the members', threshold 0.5.
  evaluate, predict and the inference API (MODEL_DIR) take it like a single model.`;

export async function ensembleCommand(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, {
    members: { type: 'string' },
    out: { type: 'string' },
    description: { type: 'string' },
  });
  const members = stringOpt(args, 'members')
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m.length > 0);
  if (members.length < 2) throw new UsageError('--members needs at least two model directories');
  const out = stringOpt(args, 'out');
  const description =
    typeof args.values.description === 'string' ? args.values.description : undefined;
  const metadata = await writeEnsembleDir(out, members, { description });
  info(
    `ensemble of ${members.length} models (${metadata.architecture}, ${metadata.preprocessing.inputSize}px, ${metadata.parameters.toLocaleString('en-US')} parameters) written to ${out}`,
  );
  return 0;
}
