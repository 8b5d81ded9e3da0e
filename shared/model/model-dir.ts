import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  EvaluationReport,
  TemperatureCalibration,
  ThresholdChoice,
} from '../metrics/index.ts';

export type { ThresholdChoice };
import type { tf } from '../tf/tf.ts';
import type { Preprocessing } from '../training/preprocessing.ts';
import { loadWeights, saveWeights } from '../weights/index.ts';
import { buildModel, isArchitectureName, type ArchitectureName } from './architectures.ts';
import { getModelWeights, setModelWeights } from './model-weights.ts';

export const MODEL_FILE = 'model.json';

/** Everything needed to rebuild a model and use it exactly as it was trained. */
export interface ModelMetadata {
  format: 'fedxray-model';
  version: 1;
  architecture: ArchitectureName;
  /** Base width (64 = the paper's network). */
  width: number;
  preprocessing: Preprocessing;
  classes: ['NORMAL', 'PNEUMONIA'];
  threshold: ThresholdChoice;
  /**
   * Temperature scaling fitted on held-out data (`fedxray simulate --calibration-fraction`):
   * consumers report sigmoid(logit(p) / temperature); the threshold stays in the raw scale.
   */
  calibration?: TemperatureCalibration;
  parameters: number;
  createdAt: string;
  training?: Record<string, unknown>;
  validation?: EvaluationReport;
  /** Present on an ensemble directory (shared/model/ensemble.ts): its members, averaged. */
  ensemble?: { members: string[]; combine: 'mean-probability' };
  /** Test-time augmentation every consumer applies (shared/model/tta.ts); absent = none. */
  tta?: 'none' | 'affine5';
}

/**
 * A model directory: model.json (metadata), weights.json (manifest) and weights.bin.
 * The model is rebuilt from its architecture name, then its weights are set by name.
 */
export async function saveModelDir(
  dir: string,
  model: tf.LayersModel,
  metadata: ModelMetadata,
  options: { dtype?: 'float32' | 'float16' } = {},
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await saveWeights(dir, getModelWeights(model), { dtype: options.dtype ?? 'float32' });
  const tmp = join(dir, `.${MODEL_FILE}.tmp`);
  await writeFile(tmp, JSON.stringify(metadata, null, 2) + '\n');
  await rename(tmp, join(dir, MODEL_FILE));
}

export async function readModelMetadata(dir: string): Promise<ModelMetadata> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(join(dir, MODEL_FILE), 'utf8'));
  } catch (error) {
    throw new Error(`No readable fedxray model in ${dir}: ${(error as Error).message}`);
  }
  const meta = parsed as Partial<ModelMetadata>;
  if (meta.format !== 'fedxray-model' || meta.version !== 1) {
    throw new Error(
      `${join(dir, MODEL_FILE)} is not a fedxray model (format ${String(meta.format)})`,
    );
  }
  if (!meta.architecture || !isArchitectureName(meta.architecture)) {
    throw new Error(
      `${join(dir, MODEL_FILE)} names an unknown architecture ${String(meta.architecture)}`,
    );
  }
  return meta as ModelMetadata;
}

export async function loadModelDir(
  dir: string,
): Promise<{ model: tf.LayersModel; metadata: ModelMetadata }> {
  const metadata = await readModelMetadata(dir);
  if (metadata.ensemble)
    throw new Error(
      `${dir} is an ensemble of ${metadata.ensemble.members.length} models: load it with loadPredictorDir`,
    );
  const weights = await loadWeights(dir);
  const model = buildModel(metadata.architecture, {
    inputSize: metadata.preprocessing.inputSize,
    width: metadata.width,
  });
  try {
    setModelWeights(model, weights);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return { model, metadata };
}
