/**
 * The arms of the recipe study (docs/robust-protocol.md). A training arm is one `fedxray
 * simulate` run of 3 hospitals (FedAvg, IID by patient, 6 rounds x 1 epoch, batch 16, Adam
 * 1e-3 cosine, float16: the shipped model's recipe) plus its own options; an ensemble arm
 * averages the models of other arms. Every arm is evaluated on the seed-42 validation split.
 */
export interface TrainingArm {
  kind: 'training';
  id: string;
  description: string;
  /** 'screen' = 64 px screening, 'finalist' = 128 px, 'baseline' = the reference. */
  stage: 'baseline' | 'screen' | 'finalist';
  size: number;
  seed: number;
  /** Extra `fedxray simulate` options. */
  options: string[];
  /** The shipped arm this one may replace if it passes the screen (protocol change 5). */
  challenges?: string;
}

export interface EnsembleArm {
  kind: 'ensemble';
  id: string;
  description: string;
  stage: 'ensemble';
  members: string[];
}

/** Another arm's model scored with test-time augmentation (shared/model/tta.ts). */
export interface TtaArm {
  kind: 'tta';
  id: string;
  description: string;
  stage: 'screen';
  base: string;
  tta: 'affine5';
}

export type Arm = TrainingArm | EnsembleArm | TtaArm;

/** The options every training arm shares (with --data, --size, --seed and the outputs). */
export const COMMON_SIMULATE_OPTIONS = [
  '--clients',
  '3',
  '--rounds',
  '6',
  '--local-epochs',
  '1',
  '--workers',
  '2',
  '--float16',
];

const training = (
  id: string,
  stage: TrainingArm['stage'],
  size: number,
  seed: number,
  options: string[],
  description: string,
): TrainingArm => ({ kind: 'training', id, stage, size, seed, options, description });

export const ARMS: readonly Arm[] = [
  training('light-64-s42', 'baseline', 64, 42, [], 'the shipped recipe: light augmentation, 64 px'),
  training(
    'strong-64-s42',
    'screen',
    64,
    42,
    ['--augment', 'strong'],
    'strong augmentation, 64 px',
  ),
  training(
    'clahe-64-s42',
    'screen',
    64,
    42,
    ['--equalize'],
    'CLAHE before per-image standardisation, 64 px',
  ),
  training(
    'light-64-s43',
    'screen',
    64,
    43,
    [],
    'the shipped recipe, seed 43 (an ensemble member)',
  ),
  training(
    'light-64-s44',
    'screen',
    64,
    44,
    [],
    'the shipped recipe, seed 44 (an ensemble member)',
  ),
  training(
    'strong-64-s43',
    'screen',
    64,
    43,
    ['--augment', 'strong'],
    'strong augmentation, seed 43',
  ),
  {
    ...training(
      'strong-64-long-s42',
      'screen',
      64,
      42,
      ['--augment', 'strong', '--rounds', '12'],
      'strong augmentation, 12 rounds instead of 6 (protocol change 5)',
    ),
    challenges: 'ens-light-64-x2',
  },
  training(
    'strong-64-long-s43',
    'screen',
    64,
    43,
    ['--augment', 'strong', '--rounds', '12'],
    'the shipped recipe (strong, 12 rounds), seed 43: an ensemble member (change 6)',
  ),
  training('light-128-s42', 'finalist', 128, 42, [], 'the shipped recipe at 128 px'),
  training(
    'strong-128-s42',
    'finalist',
    128,
    42,
    ['--augment', 'strong'],
    'strong augmentation at 128 px',
  ),
  {
    kind: 'tta',
    id: 'light-64-s42-tta',
    stage: 'screen',
    base: 'light-64-s42',
    tta: 'affine5',
    description: 'the shipped model with test-time augmentation (5 variants)',
  },
  {
    kind: 'ensemble',
    id: 'ens-light-64-x2',
    stage: 'ensemble',
    members: ['light-64-s42', 'light-64-s43'],
    description: 'mean of two seeds of the shipped recipe, 64 px',
  },
  {
    kind: 'ensemble',
    id: 'ens-light-64-x3',
    stage: 'ensemble',
    members: ['light-64-s42', 'light-64-s43', 'light-64-s44'],
    description: 'mean of three seeds of the shipped recipe, 64 px',
  },
  {
    kind: 'ensemble',
    id: 'ens-strong-64-x2',
    stage: 'ensemble',
    members: ['strong-64-s42', 'strong-64-s43'],
    description: 'mean of two seeds of strong augmentation, 64 px',
  },
  {
    kind: 'ensemble',
    id: 'ens-strong-64-long-x2',
    stage: 'ensemble',
    members: ['strong-64-long-s42', 'strong-64-long-s43'],
    description: 'mean of two seeds of the shipped recipe (strong, 12 rounds), 64 px (change 6)',
  },
];

export function findArm(id: string): Arm {
  const arm = ARMS.find((a) => a.id === id);
  if (!arm) throw new Error(`unknown arm ${id}; arms: ${ARMS.map((a) => a.id).join(', ')}`);
  return arm;
}
