/**
 * Writes the patient-level validation split that `fedxray train/simulate` carve from a
 * training folder (the same rule and seed), as a manifest that `fedxray evaluate --data`
 * reads, so a shipped model is scored on exactly the images it never trained on.
 *
 *   npx tsx bench/robust/write-split.ts --data ../shared/data/chest-xray/train --out DIR
 *     [--val-fraction 0.1] [--seed 42]
 */
import { parseArgs } from 'node:util';
import { prepareData, writeManifest } from '../../shared/cli/data-setup.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    out: { type: 'string' },
    'val-fraction': { type: 'string', default: '0.1' },
    seed: { type: 'string', default: '42' },
  },
});
if (!values.data || !values.out) {
  console.error('usage: write-split.ts --data DIR --out DIR [--val-fraction 0.1] [--seed 42]');
  process.exit(2);
}
const data = await prepareData({
  dataDir: values.data,
  valFraction: Number(values['val-fraction']),
  seed: Number(values.seed),
});
await writeManifest(values.out, data.val, 'val');
console.log(JSON.stringify({ out: values.out, val: data.val.length, train: data.train.length }));
