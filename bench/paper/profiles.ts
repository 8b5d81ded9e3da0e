/**
 * The settings of each profile of the paper suite (docs/paper-protocol.md).
 *
 * - `cpu`: fits the project's 2-core machines (wasm backend): 64 px, full-width networks,
 *   6 epochs centralised, 6 rounds x 1 local epoch federated; resumable across sessions.
 * - `paper`: the paper's protocol for a GPU machine: 224 px, 20 rounds x 10 local epochs.
 * - `tiny`: 32 px, width 8, 2 epochs / 2 rounds x 1 local epoch on 40 images: the tests' dry run.
 *
 * `--dry-run` shrinks any profile to tiny scale while keeping its experiment list and recipe.
 */
import { DEFAULT_TRAIN_SETTINGS, type TrainSettings } from '../../shared/training/settings.ts';
import type { Preprocessing } from '../../shared/training/preprocessing.ts';
import type { ArchitectureName } from '../../shared/model/architectures.ts';

export const PROFILE_NAMES = ['cpu', 'paper', 'tiny'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

export interface Profile {
  name: ProfileName;
  description: string;
  /** True when shrunk to tiny scale by --dry-run. */
  dryRun: boolean;
  /** Input side in pixels. */
  inputSize: number;
  /** Base width of every network (64 = the published networks). */
  width: number;
  /** Image normalisation and equalisation, stored with each result. */
  normalization: Preprocessing['normalization'];
  equalize: boolean;
  /** Epochs of every centralised run of Tables 2 and 3 (but see table3Epochs). */
  centralisedEpochs: number;
  /**
   * Table 3 baselines trained for fewer epochs than centralisedEpochs because a run of that
   * length would not finish within one working session on the profile's machine (results are
   * written at the end of a run). Set for cost only, before any of the run's results was seen.
   */
  table3Epochs?: Partial<Record<ArchitectureName, number>>;
  /** Batch sizes compared in Table 2. */
  table2Batches: number[];
  /** Batch size of Table 3, the federation and the local-only runs. */
  batchSize: number;
  /** Federation: J hospitals, T rounds, E local epochs, C fraction sampled per round. */
  clients: number;
  rounds: number;
  localEpochs: number;
  fraction: number;
  /** Dirichlet concentration of the non-IID partition. */
  dirichletAlpha: number;
  /**
   * The optimisation recipe shared by every run (optimizer, learning rate, schedule, weight
   * decay, class balance, label smoothing, augmentation, seed); `epochs` and `batchSize`
   * are set per experiment.
   */
  recipe: Omit<TrainSettings, 'epochs' | 'batchSize'>;
  /** Decision threshold rule (fedxray syntax) of every experiment but the calibrated one. */
  thresholdRule: string;
  /**
   * The operating-point study: a federation whose hospitals each hold out `fraction` of their
   * share by patient (never trained on); the threshold is chosen by `rule` on the pooled
   * `bins`-bin score histograms of those held-out splits, never on the validation split.
   */
  calibration: { fraction: number; rule: string; bins: number };
  /** Validation split carved from the training data, by patient, stratified. */
  valFraction: number;
  /** Seed of the validation split and of the hospital partitions (partitionByPatient). */
  splitSeed: number;
  /** Seed of the model initialisation. */
  modelSeed: number;
  /** Bootstrap resamples for the F1 and AUC intervals. */
  bootstrapSamples: number;
  /** Use at most this many images of --data (a seeded random subset); undefined = all. */
  limit?: number;
}

/** The engine's recipe (docs/engine.md): Adam 1e-3, cosine, class weights, smoothing, augmentation. */
const RECIPE: Profile['recipe'] = {
  optimizer: DEFAULT_TRAIN_SETTINGS.optimizer,
  learningRate: DEFAULT_TRAIN_SETTINGS.learningRate,
  momentum: DEFAULT_TRAIN_SETTINGS.momentum,
  weightDecay: DEFAULT_TRAIN_SETTINGS.weightDecay,
  schedule: DEFAULT_TRAIN_SETTINGS.schedule,
  warmupEpochs: DEFAULT_TRAIN_SETTINGS.warmupEpochs,
  classBalancing: DEFAULT_TRAIN_SETTINGS.classBalancing,
  labelSmoothing: DEFAULT_TRAIN_SETTINGS.labelSmoothing,
  augment: DEFAULT_TRAIN_SETTINGS.augment,
  seed: 42,
};

const COMMON = {
  dryRun: false,
  normalization: 'per-image',
  equalize: false,
  table2Batches: [4, 8, 16, 32],
  clients: 3,
  fraction: 1,
  dirichletAlpha: 0.5,
  recipe: RECIPE,
  thresholdRule: 'fixed:0.5',
  // min-recall 0.97: a screening tool should miss few pneumonias (the paper's recall is 0.974);
  // fixed before any calibrated run, not tuned on the validation split.
  calibration: { fraction: 0.1, rule: 'min-recall:0.97', bins: 200 },
  valFraction: 0.1,
  splitSeed: 42,
  modelSeed: 42,
  bootstrapSamples: 1000,
} as const satisfies Partial<Profile>;

export const PROFILES: Record<ProfileName, Profile> = {
  cpu: {
    ...COMMON,
    table2Batches: [...COMMON.table2Batches],
    name: 'cpu',
    description:
      'CPU-only 2-core machines (wasm): 64 px, full-width networks, 6 epochs centralised, 6 rounds x 1 local epoch federated',
    inputSize: 64,
    width: 64,
    centralisedEpochs: 6,
    // VGG-16 trains at 2.7 img/s on 2 idle Xeon cores (wasm), and at about half that while
    // anything else runs: 6 epochs take 3 h or more, longer than a session; 3 take 1.5 h.
    table3Epochs: { vgg16: 3 },
    batchSize: 16,
    rounds: 6,
    localEpochs: 1,
  },
  paper: {
    ...COMMON,
    table2Batches: [...COMMON.table2Batches],
    name: 'paper',
    description:
      "The paper's protocol for a GPU machine: 224 px, full-width networks, 20 rounds x 10 local epochs federated",
    inputSize: 224,
    width: 64,
    centralisedEpochs: 50,
    batchSize: 16,
    rounds: 20,
    localEpochs: 10,
  },
  tiny: {
    ...COMMON,
    table2Batches: [...COMMON.table2Batches],
    name: 'tiny',
    description:
      'Test-sized dry run: 32 px, width 8, 40 images, 2 epochs centralised, 2 rounds x 1 local epoch',
    inputSize: 32,
    width: 8,
    centralisedEpochs: 2,
    batchSize: 8,
    rounds: 2,
    localEpochs: 1,
    bootstrapSamples: 200,
    limit: 40,
  },
};

export function isProfileName(name: string): name is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(name);
}

/** Overrides accepted on the command line (for quick experiments; they change the result specs). */
export interface ProfileOverrides {
  inputSize?: number;
  width?: number;
  centralisedEpochs?: number;
  rounds?: number;
  localEpochs?: number;
  batchSize?: number;
  limit?: number;
}

/**
 * The profile to run: the named one, shrunk to tiny scale by dryRun (same experiment list,
 * batch sizes, hospitals, partitions and recipe; 32 px, width 8, 2 epochs, 2 rounds x 1 local
 * epoch, 40 images), then the explicit overrides.
 */
export function resolveProfile(
  name: ProfileName,
  options: { dryRun?: boolean; overrides?: ProfileOverrides } = {},
): Profile {
  let profile: Profile = { ...PROFILES[name], table2Batches: [...PROFILES[name].table2Batches] };
  if (options.dryRun) {
    const tiny = PROFILES.tiny;
    profile = {
      ...profile,
      dryRun: true,
      inputSize: tiny.inputSize,
      width: tiny.width,
      centralisedEpochs: tiny.centralisedEpochs,
      table3Epochs: undefined,
      rounds: tiny.rounds,
      localEpochs: tiny.localEpochs,
      bootstrapSamples: tiny.bootstrapSamples,
      limit: tiny.limit,
    };
  }
  const o = options.overrides ?? {};
  for (const [key, value] of Object.entries(o) as [keyof ProfileOverrides, number | undefined][]) {
    if (value !== undefined) profile[key] = value;
  }
  return profile;
}

/** Epochs of each hospital's local-only run and of the pooled baseline: the federation's T x E. */
export function federatedEpochBudget(profile: Profile): number {
  return profile.rounds * profile.localEpochs;
}
