import { join } from 'node:path';
import { describeSplit, prepareData, writeManifest } from '../data-setup.ts';
import { numberOpt, parseCommandArgs, stringOpt } from '../options.ts';
import { info } from '../output.ts';

export const SPLIT_HELP = `fedxray split --data DIR --out DIR [--val-fraction 0.1] [--seed 42]
  Writes DIR/train/manifest.csv and DIR/val/manifest.csv: a deterministic, patient-level,
  stratified split (no patient on both sides). Pass either folder to --data of other commands.`;

export async function splitCommand(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, {
    data: { type: 'string' },
    out: { type: 'string' },
    'val-fraction': { type: 'string' },
    seed: { type: 'string' },
  });
  const out = stringOpt(args, 'out');
  const data = await prepareData({
    dataDir: stringOpt(args, 'data'),
    valFraction: numberOpt(args, 'val-fraction', 0.1, { min: 0.01, max: 0.5 }),
    seed: numberOpt(args, 'seed', 42, { integer: true, min: 0 }),
  });
  await writeManifest(join(out, 'train'), data.train, 'train');
  await writeManifest(join(out, 'val'), data.val, 'val');
  info(describeSplit(data));
  info(`wrote ${join(out, 'train', 'manifest.csv')} and ${join(out, 'val', 'manifest.csv')}`);
  return 0;
}
