import type { AugmentPolicy } from '../data/augment.ts';

export type OptimizerName = 'adam' | 'sgd';
export type ScheduleName = 'constant' | 'cosine' | 'step';
export type ClassBalancing = 'weights' | 'none';

/** Everything that decides how a model is trained locally (one hospital or centralised). */
export interface TrainSettings {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerName;
  learningRate: number;
  /** SGD momentum (ignored by Adam). */
  momentum: number;
  /** Decoupled weight decay (AdamW / SGDW style) on conv and dense kernels. */
  weightDecay: number;
  schedule: ScheduleName;
  /** Linear warm-up, in epochs of the whole schedule. */
  warmupEpochs: number;
  classBalancing: ClassBalancing;
  /**
   * Class weights [NORMAL, PNEUMONIA] to use instead of those of the local images when
   * classBalancing is 'weights': a federation's, from all its hospitals' class counts.
   */
  classWeights?: [number, number];
  /**
   * Stop each epoch after this many steps (each epoch still draws a fresh shuffle). In a
   * federation with 1 local epoch this is FedAvg with K local steps per round: less client
   * drift on skewed shares than whole local epochs. Absent: whole epochs.
   */
  maxStepsPerEpoch?: number;
  /**
   * FedProx's mu (Li et al., 2020): local training minimises loss(w) + (mu / 2)·||w − w0||²
   * over the trainable weights, where w0 are the weights trainLocal starts from (in a
   * federation, the round's global model). Limits client drift on skewed (non-IID) shares.
   * The reported loss stays the data loss alone. Absent or 0: plain local training.
   */
  proximalMu?: number;
  labelSmoothing: number;
  augment: boolean;
  /** Which augmentation, when augment is on (shared/data/augment.ts). Absent: 'light'. */
  augmentPolicy?: AugmentPolicy;
  seed: number;
}

export const DEFAULT_TRAIN_SETTINGS: TrainSettings = {
  epochs: 1,
  batchSize: 16,
  optimizer: 'adam',
  learningRate: 1e-3,
  momentum: 0.9,
  weightDecay: 1e-4,
  schedule: 'cosine',
  warmupEpochs: 0,
  classBalancing: 'weights',
  labelSmoothing: 0.05,
  augment: true,
  seed: 42,
};

export function validateTrainSettings(s: TrainSettings): void {
  const problems: string[] = [];
  if (!Number.isInteger(s.epochs) || s.epochs < 1)
    problems.push(`epochs must be a positive integer (got ${s.epochs})`);
  if (!Number.isInteger(s.batchSize) || s.batchSize < 1)
    problems.push(`batch size must be a positive integer (got ${s.batchSize})`);
  if (!(s.learningRate > 0 && s.learningRate < 10))
    problems.push(`learning rate must be in (0, 10) (got ${s.learningRate})`);
  if (!(s.momentum >= 0 && s.momentum < 1))
    problems.push(`momentum must be in [0, 1) (got ${s.momentum})`);
  if (!(s.weightDecay >= 0 && s.weightDecay < 1))
    problems.push(`weight decay must be in [0, 1) (got ${s.weightDecay})`);
  if (!(s.labelSmoothing >= 0 && s.labelSmoothing < 0.5))
    problems.push(`label smoothing must be in [0, 0.5) (got ${s.labelSmoothing})`);
  if (!(s.warmupEpochs >= 0)) problems.push(`warm-up epochs must be >= 0 (got ${s.warmupEpochs})`);
  if (
    s.classWeights !== undefined &&
    !(
      s.classWeights.length === 2 &&
      s.classWeights.every((w) => Number.isFinite(w) && w >= 0) &&
      s.classWeights.some((w) => w > 0)
    )
  )
    problems.push(
      `class weights must be two finite numbers >= 0, not both 0 (got ${JSON.stringify(s.classWeights)})`,
    );
  if (
    s.maxStepsPerEpoch !== undefined &&
    !(Number.isInteger(s.maxStepsPerEpoch) && s.maxStepsPerEpoch >= 1)
  )
    problems.push(`max steps per epoch must be a positive integer (got ${s.maxStepsPerEpoch})`);
  if (s.proximalMu !== undefined && !(s.proximalMu >= 0 && s.proximalMu < 1000))
    problems.push(`proximal mu must be a finite number >= 0 (got ${s.proximalMu})`);
  if (s.augmentPolicy !== undefined && !['light', 'strong'].includes(s.augmentPolicy))
    problems.push(`augment policy must be light or strong (got ${s.augmentPolicy})`);
  if (!['adam', 'sgd'].includes(s.optimizer))
    problems.push(`optimizer must be adam or sgd (got ${s.optimizer})`);
  if (!['constant', 'cosine', 'step'].includes(s.schedule))
    problems.push(`schedule must be constant, cosine or step (got ${s.schedule})`);
  if (problems.length > 0) throw new Error(`Invalid training settings: ${problems.join('; ')}`);
}
