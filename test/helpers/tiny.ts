import { buildModel } from '../../shared/model/architectures.ts';
import type { tf } from '../../shared/tf/tf.ts';
import { initBackend } from '../../shared/tf/backend.ts';
import type { TrainSettings } from '../../shared/training/settings.ts';
import { DEFAULT_TRAIN_SETTINGS } from '../../shared/training/settings.ts';

/** Tests use the production backend choice (wasm here), quietly. */
export async function useTestBackend(): Promise<void> {
  process.env.FEDXRAY_QUIET = '1';
  await initBackend();
}

/** The paper's topology at toy scale: 32 px input, base width 8. */
export function tinyModel(architecture = 'se-resnet18-gn', seed = 1): tf.LayersModel {
  return buildModel(architecture, { inputSize: 32, width: 8, seed });
}

export const TINY_PREPROCESSING = {
  inputSize: 32,
  normalization: 'per-image',
  equalize: false,
} as const;

export function tinySettings(overrides: Partial<TrainSettings> = {}): TrainSettings {
  return { ...DEFAULT_TRAIN_SETTINGS, epochs: 1, batchSize: 8, augment: false, ...overrides };
}
