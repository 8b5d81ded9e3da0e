import { writeEnsembleDir } from '../../model/ensemble.ts';
import { TTA_POLICIES } from '../../model/tta.ts';
import { choiceOpt, parseCommandArgs, stringOpt, UsageError } from '../options.ts';
import { info } from '../output.ts';

export const ENSEMBLE_HELP = `fedxray ensemble --members DIR,DIR[,...] --out DIR [--description TEXT] [--tta none|affine5]
  Builds one model directory from two or more trained models that read images alike (same
  input size and normalisation): P(PNEUMONIA) is the mean of the members', threshold 0.5.
  evaluate, predict and the inference API (MODEL_DIR) take it like a single model; with --tta
  each of them scores every image as the mean over the test-time variants (shared/model/tta.ts).`;

export async function ensembleCommand(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, {
    members: { type: 'string' },
    out: { type: 'string' },
    description: { type: 'string' },
    tta: { type: 'string' },
  });
  const members = stringOpt(args, 'members')
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m.length > 0);
  if (members.length < 2) throw new UsageError('--members needs at least two model directories');
  const out = stringOpt(args, 'out');
  const description =
    typeof args.values.description === 'string' ? args.values.description : undefined;
  const tta = choiceOpt(args, 'tta', TTA_POLICIES, 'none');
  const metadata = await writeEnsembleDir(out, members, { description, tta });
  info(
    `ensemble of ${members.length} models (${metadata.architecture}, ${metadata.preprocessing.inputSize}px, ${metadata.parameters.toLocaleString('en-US')} parameters) written to ${out}`,
  );
  return 0;
}
