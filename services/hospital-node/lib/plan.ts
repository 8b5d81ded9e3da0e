import type { Preprocessing } from '../../../shared/training/preprocessing.ts';
import {
  DEFAULT_TRAIN_SETTINGS,
  validateTrainSettings,
  type TrainSettings,
} from '../../../shared/training/settings.ts';
import type { ModelInput } from '../schemas/common.ts';
import type { TrainRequest } from '../schemas/train.ts';
import { PublicError } from './errors.ts';
import type { ModelSpec } from './model-cache.ts';

/** A validated /train body with every default filled in: what a job runs. */
export interface TrainPlan {
  runId: string;
  round: number;
  model: { id: string; sha256: string };
  spec: ModelSpec;
  preprocessing: Preprocessing;
  settings: TrainSettings;
  schedule: { startEpoch: number; totalEpochs: number };
}

/** The network and preprocessing a request asks for; throws PublicError('invalid-request'). */
export function resolveModelInput(input: ModelInput): {
  spec: ModelSpec;
  preprocessing: Preprocessing;
} {
  const preprocessing: Preprocessing = {
    inputSize: input.preprocessing?.inputSize ?? input.inputSize,
    normalization: input.preprocessing?.normalization ?? 'per-image',
    equalize: input.preprocessing?.equalize ?? false,
  };
  if (preprocessing.inputSize !== input.inputSize) {
    throw new PublicError(
      'invalid-request',
      `preprocessing.inputSize (${preprocessing.inputSize}) must equal inputSize (${input.inputSize})`,
    );
  }
  return {
    spec: {
      architecture: input.architecture,
      inputSize: input.inputSize,
      width: input.width ?? 64,
    },
    preprocessing,
  };
}

/** Merges the settings over DEFAULT_TRAIN_SETTINGS and checks them; throws PublicError. */
export function planTraining(body: TrainRequest): TrainPlan {
  const { spec, preprocessing } = resolveModelInput(body);
  const settings: TrainSettings = { ...DEFAULT_TRAIN_SETTINGS, ...body.settings };
  try {
    validateTrainSettings(settings);
  } catch (error) {
    throw new PublicError('invalid-settings', (error as Error).message);
  }
  const schedule = body.schedule ?? { startEpoch: 0, totalEpochs: settings.epochs };
  return {
    runId: body.runId,
    round: body.round,
    model: { id: body.model.id, sha256: body.model.sha256.toLowerCase() },
    spec,
    preprocessing,
    settings,
    schedule,
  };
}
