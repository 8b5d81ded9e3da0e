import { ARCHITECTURE_NAMES, type ArchitectureName } from '../model/architectures.ts';
import { parseThresholdRule, type ThresholdRule } from '../metrics/index.ts';
import type { Preprocessing } from '../training/preprocessing.ts';
import {
  DEFAULT_TRAIN_SETTINGS,
  validateTrainSettings,
  type TrainSettings,
} from '../training/settings.ts';
import { choiceOpt, flag, numberOpt, stringOpt, UsageError, type ParsedArgs } from './options.ts';

/**
 * The default decision threshold: fixed at 0.5. Class-weighted training already aims at
 * balanced errors, and thresholds tuned on an easy in-distribution validation split were
 * measured to hurt on shifted data (docs/engine.md). Other rules: --threshold-rule.
 */
export const DEFAULT_THRESHOLD_RULE = 'fixed:0.5';

/** Options shared by `train` and `simulate`. */
export const TRAINING_OPTIONS = {
  data: { type: 'string' },
  'val-data': { type: 'string' },
  'val-fraction': { type: 'string' },
  out: { type: 'string' },
  arch: { type: 'string' },
  size: { type: 'string' },
  width: { type: 'string' },
  batch: { type: 'string' },
  lr: { type: 'string' },
  optimizer: { type: 'string' },
  momentum: { type: 'string' },
  'weight-decay': { type: 'string' },
  schedule: { type: 'string' },
  'warmup-epochs': { type: 'string' },
  'class-balance': { type: 'string' },
  'label-smoothing': { type: 'string' },
  'max-steps-per-epoch': { type: 'string' },
  'proximal-mu': { type: 'string' },
  'no-augment': { type: 'boolean' },
  augment: { type: 'string' },
  normalization: { type: 'string' },
  equalize: { type: 'boolean' },
  'threshold-rule': { type: 'string' },
  float16: { type: 'boolean' },
  seed: { type: 'string' },
  limit: { type: 'string' },
  backend: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export interface CommonTraining {
  dataDir: string;
  valDataDir?: string;
  valFraction: number;
  outDir: string;
  architecture: ArchitectureName;
  width: number;
  preprocessing: Preprocessing;
  settings: TrainSettings;
  thresholdRule: ThresholdRule;
  thresholdRuleText: string;
  dtype: 'float32' | 'float16';
  seed: number;
  limit?: number;
}

export function readCommonTraining(args: ParsedArgs, epochs: number): CommonTraining {
  const seed = numberOpt(args, 'seed', DEFAULT_TRAIN_SETTINGS.seed, { integer: true, min: 0 });
  const settings: TrainSettings = {
    epochs,
    batchSize: numberOpt(args, 'batch', DEFAULT_TRAIN_SETTINGS.batchSize, {
      integer: true,
      min: 1,
      max: 1024,
    }),
    optimizer: choiceOpt(
      args,
      'optimizer',
      ['adam', 'sgd'] as const,
      DEFAULT_TRAIN_SETTINGS.optimizer,
    ),
    learningRate: numberOpt(args, 'lr', DEFAULT_TRAIN_SETTINGS.learningRate, {
      min: 1e-8,
      max: 10,
    }),
    momentum: numberOpt(args, 'momentum', DEFAULT_TRAIN_SETTINGS.momentum, { min: 0, max: 0.999 }),
    weightDecay: numberOpt(args, 'weight-decay', DEFAULT_TRAIN_SETTINGS.weightDecay, {
      min: 0,
      max: 0.5,
    }),
    schedule: choiceOpt(
      args,
      'schedule',
      ['constant', 'cosine', 'step'] as const,
      DEFAULT_TRAIN_SETTINGS.schedule,
    ),
    warmupEpochs: numberOpt(args, 'warmup-epochs', DEFAULT_TRAIN_SETTINGS.warmupEpochs, { min: 0 }),
    classBalancing: choiceOpt(
      args,
      'class-balance',
      ['weights', 'none'] as const,
      DEFAULT_TRAIN_SETTINGS.classBalancing,
    ),
    labelSmoothing: numberOpt(args, 'label-smoothing', DEFAULT_TRAIN_SETTINGS.labelSmoothing, {
      min: 0,
      max: 0.49,
    }),
    augment: !flag(args, 'no-augment'),
    seed,
  };
  if (args.values.augment !== undefined) {
    if (!settings.augment) throw new UsageError('--augment and --no-augment exclude each other');
    settings.augmentPolicy = choiceOpt(args, 'augment', ['light', 'strong'] as const, 'light');
  }
  if (args.values['max-steps-per-epoch'] !== undefined)
    settings.maxStepsPerEpoch = numberOpt(args, 'max-steps-per-epoch', 1, {
      integer: true,
      min: 1,
    });
  if (args.values['proximal-mu'] !== undefined)
    settings.proximalMu = numberOpt(args, 'proximal-mu', 0, { min: 0, max: 999 });
  validateTrainSettings(settings);
  const thresholdRuleText = stringOpt(args, 'threshold-rule', DEFAULT_THRESHOLD_RULE);
  let thresholdRule: ThresholdRule;
  try {
    thresholdRule = parseThresholdRule(thresholdRuleText);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const limit =
    args.values.limit === undefined
      ? undefined
      : numberOpt(args, 'limit', 0, { integer: true, min: 2 });
  return {
    dataDir: stringOpt(args, 'data'),
    valDataDir: typeof args.values['val-data'] === 'string' ? args.values['val-data'] : undefined,
    valFraction: numberOpt(args, 'val-fraction', 0.1, { min: 0, max: 0.5 }),
    outDir: stringOpt(args, 'out'),
    architecture: choiceOpt(args, 'arch', ARCHITECTURE_NAMES, 'se-resnet18-gn'),
    width: numberOpt(args, 'width', 64, { integer: true, min: 4, max: 256 }),
    preprocessing: {
      inputSize: numberOpt(args, 'size', 64, { integer: true, min: 32, max: 512 }),
      normalization: choiceOpt(args, 'normalization', ['per-image', 'unit'] as const, 'per-image'),
      equalize: flag(args, 'equalize'),
    },
    settings,
    thresholdRule,
    thresholdRuleText,
    dtype: flag(args, 'float16') ? 'float16' : 'float32',
    seed,
    limit,
  };
}
