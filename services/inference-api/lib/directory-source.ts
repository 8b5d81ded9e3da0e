import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { readMemberMetadata } from '../../../shared/model/ensemble.ts';
import { readModelMetadata } from '../../../shared/model/model-dir.ts';
import { loadWeightsWithManifest } from '../../../shared/weights/index.ts';
import { instantiateModel, type LoadedModel } from './loaded-model.ts';
import { readModelCalibration } from './probability-scale.ts';

/**
 * Loads a fedxray model directory (model.json, weights.json, weights.bin; e.g. written by
 * `fedxray simulate --out`), or an ensemble directory (`fedxray ensemble`), whose sha256 is
 * that of its members' sha256s in order. The id is derived from the sha256, so the same
 * weights always have the same id.
 */
export async function loadDirectoryModel(dir: string): Promise<LoadedModel> {
  const metadata = await readModelMetadata(dir);
  const memberDirs = metadata.ensemble ? metadata.ensemble.members.map((m) => join(dir, m)) : [dir];
  if (metadata.ensemble) {
    const members = await readMemberMetadata(dir, metadata);
    if (members.some((m) => m.architecture !== metadata.architecture || m.width !== metadata.width))
      throw new Error(`${dir}: the inference API serves ensembles of one architecture and width`);
  }
  const loaded = await Promise.all(memberDirs.map((d) => loadWeightsWithManifest(d)));
  const sha256 =
    loaded.length === 1
      ? loaded[0].manifest.sha256
      : createHash('sha256')
          .update(loaded.map((l) => l.manifest.sha256).join('\n'))
          .digest('hex');
  const training = metadata.training ?? {};
  const rounds = training.kind === 'federated' ? training.rounds : undefined;
  const { preprocessing } = metadata;
  const calibration = readModelCalibration(metadata.calibration);
  return instantiateModel(
    {
      architecture: metadata.architecture,
      inputSize: preprocessing.inputSize,
      width: metadata.width,
      tta: metadata.tta,
    },
    loaded.map((l) => l.weights),
    {
      id: `local-${sha256.slice(0, 12)}`,
      version: null,
      round: typeof rounds === 'number' && Number.isInteger(rounds) ? rounds : null,
      sha256,
      architecture: metadata.architecture,
      width: metadata.width,
      inputSize: preprocessing.inputSize,
      threshold: metadata.threshold.threshold,
      thresholdRule: metadata.threshold.rule ?? null,
      // An ensemble's own calibration applies to its members' mean probability.
      ...(calibration ? { calibration } : {}),
      preprocessing: {
        inputSize: preprocessing.inputSize,
        normalization: preprocessing.normalization,
        equalize: preprocessing.equalize,
      },
      loadedAt: new Date().toISOString(),
      source: 'directory',
    },
  );
}
