import { readModelMetadata } from '../../../shared/model/model-dir.ts';
import { loadWeightsWithManifest } from '../../../shared/weights/index.ts';
import { instantiateModel, type LoadedModel } from './loaded-model.ts';

/**
 * Loads a fedxray model directory (model.json, weights.json, weights.bin; e.g. written by
 * `fedxray simulate --out`). Its id is derived from the weights' sha256, so the same weights
 * always have the same id.
 */
export async function loadDirectoryModel(dir: string): Promise<LoadedModel> {
  const metadata = await readModelMetadata(dir);
  const { weights, manifest } = await loadWeightsWithManifest(dir);
  const training = metadata.training ?? {};
  const rounds = training.kind === 'federated' ? training.rounds : undefined;
  const { preprocessing } = metadata;
  return instantiateModel(
    {
      architecture: metadata.architecture,
      inputSize: preprocessing.inputSize,
      width: metadata.width,
    },
    weights,
    {
      id: `local-${manifest.sha256.slice(0, 12)}`,
      version: null,
      round: typeof rounds === 'number' && Number.isInteger(rounds) ? rounds : null,
      sha256: manifest.sha256,
      architecture: metadata.architecture,
      width: metadata.width,
      inputSize: preprocessing.inputSize,
      threshold: metadata.threshold.threshold,
      thresholdRule: metadata.threshold.rule ?? null,
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
