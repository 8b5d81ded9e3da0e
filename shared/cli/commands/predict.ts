import { basename } from 'node:path';
import { decodeXray } from '../../data/index.ts';
import { loadPredictorDir } from '../../model/ensemble.ts';
import { initBackend } from '../../tf/backend.ts';
import { flag, parseCommandArgs, stringOpt, UsageError } from '../options.ts';
import { printJson } from '../output.ts';

export const PREDICT_HELP = `fedxray predict --model DIR FILE... [--json]
  Diagnoses each X-ray (JPEG, PNG or DICOM): label, probability of pneumonia, threshold.
  Research use only: not a medical device.`;

export async function predictCommand(argv: string[]): Promise<number> {
  const args = parseCommandArgs(
    argv,
    { model: { type: 'string' }, json: { type: 'boolean' }, backend: { type: 'string' } },
    true,
  );
  if (args.positionals.length === 0) throw new UsageError('predict needs at least one image file');
  await initBackend({
    preferred: typeof args.values.backend === 'string' ? args.values.backend : undefined,
  });
  const predictor = await loadPredictorDir(stringOpt(args, 'model'));
  const { metadata } = predictor;
  const { inputSize } = metadata.preprocessing;
  const threshold = metadata.threshold.threshold;
  let failures = 0;
  const results: Array<Record<string, unknown>> = [];
  try {
    for (const file of args.positionals) {
      try {
        const pixels = await decodeXray(file, {
          size: inputSize,
          normalization: metadata.preprocessing.normalization,
          equalize: metadata.preprocessing.equalize,
        });
        const probability = predictor.score(pixels, 1, inputSize)[0];
        results.push({
          file,
          label: probability >= threshold ? 'PNEUMONIA' : 'NORMAL',
          probability,
          threshold,
        });
      } catch (error) {
        failures++;
        results.push({ file, error: (error as Error).message });
      }
    }
  } finally {
    predictor.dispose();
  }
  if (flag(args, 'json')) {
    printJson({ model: metadata.architecture, threshold, results });
  } else {
    for (const r of results) {
      const name = basename(String(r.file));
      process.stdout.write(
        r.error
          ? `${name}\terror: ${String(r.error)}\n`
          : `${name}\t${String(r.label)}\tp(pneumonia)=${Number(r.probability).toFixed(4)}\n`,
      );
    }
  }
  return failures > 0 ? 1 : 0;
}
