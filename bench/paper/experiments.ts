/**
 * The experiment list of the paper suite. Every experiment has a unique id that is also its
 * result file (`<results>/<id>.json`); ids name what was trained, so one run can serve several
 * groups (Table 3's SE-ResNet-BN is Table 2's run at the same batch size, and the pooled
 * baseline of "why federate" is Table 2's SE-ResNet-GN run when the epoch budgets match).
 *
 * Groups:
 * - table2: SE-ResNet-BN vs SE-ResNet-GN, centralised, at each batch size of the profile;
 * - table3: AlexNet, VGG-16, ResNet-18, SE-ResNet-BN centralised vs FL-SE-ResNet-GN federated
 *   over J hospitals with equal (IID) patient-level shares;
 * - federate: the federated model vs each hospital alone on its share vs pooled centralised
 *   training, with IID and non-IID (Dirichlet alpha) partitions, and the non-IID federation
 *   again with federation-wide class weights (from the summed class counts of all shares);
 * - curves: validation accuracy and loss per epoch or round of every Table 3 model (Fig. 5, 6);
 * - threshold: the operating point: the IID federation with each hospital holding out a
 *   calibration split, the threshold chosen on their pooled score histograms (the recall study).
 */
import { usesBatchNorm, type ArchitectureName } from '../../shared/model/architectures.ts';
import type { Preprocessing } from '../../shared/training/preprocessing.ts';
import type { TrainSettings } from '../../shared/training/settings.ts';
import { federatedEpochBudget, type Profile } from './profiles.ts';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export const GROUP_NAMES = ['table2', 'table3', 'federate', 'curves', 'threshold'] as const;
export type GroupName = (typeof GROUP_NAMES)[number];

export type ExperimentKind = 'centralised' | 'federated' | 'local-only';

export interface PartitionSpec {
  scheme: 'iid' | 'dirichlet';
  /** Dirichlet concentration; present only for scheme 'dirichlet'. */
  alpha?: number;
}

/**
 * Everything that decides an experiment's result. A stored result is reused only when its
 * spec equals the current one (and the data are the same).
 */
export interface ExperimentSpec {
  id: string;
  kind: ExperimentKind;
  /** Row label in the reports. */
  title: string;
  architecture: ArchitectureName;
  width: number;
  preprocessing: Preprocessing;
  /**
   * Training settings: for centralised and local-only runs `epochs` is the number of epochs;
   * for federated runs it is E, the local epochs per round.
   */
  settings: TrainSettings;
  modelSeed: number;
  thresholdRule: string;
  bootstrapSamples: number;
  /** The validation split (carved from --data by patient) and the data subset. */
  split: { valFraction: number; seed: number; limit: number | null };
  /** Federated runs: FedAvg over `clients` hospitals. */
  federation?: {
    clients: number;
    rounds: number;
    fraction: number;
    maxDownloads: number;
    partition: PartitionSpec;
    /** Seed of the partition (and of FedAvg's sampling and the clients' training seeds). */
    seed: number;
  };
  /**
   * Federated runs of the threshold group: each hospital holds out `fraction` of its share by
   * patient; the threshold is chosen by `rule` on the pooled `bins`-bin score histograms of the
   * held-out splits (`thresholdRule` then only names the rule of the uncalibrated comparison).
   */
  calibration?: { fraction: number; rule: string; bins: number };
  /**
   * Federated runs: 'federation', every hospital weights the classes of its loss by the summed
   * class counts of all shares (runSimulation's classWeights). Absent: each hospital by its
   * own share's, as every result made before the option was.
   */
  classWeights?: 'federation';
  /** Local-only runs: one hospital's share of the same partition as the federation's. */
  hospital?: { index: number; clients: number; partition: PartitionSpec; seed: number };
}

export interface Experiment {
  spec: ExperimentSpec;
  groups: GroupName[];
  /** Lower runs first: the paper's headline numbers before the long tail. */
  priority: number;
}

export interface ExperimentPlan {
  profile: Profile;
  experiments: Experiment[];
}

const DISPLAY: Record<ArchitectureName, string> = {
  alexnet: 'AlexNet',
  vgg16: 'VGG-16',
  resnet18: 'ResNet-18',
  'se-resnet18-bn': 'SE-ResNet-BN',
  'se-resnet18-gn': 'SE-ResNet-GN',
};

export function displayName(architecture: ArchitectureName): string {
  return DISPLAY[architecture];
}

function partitionLabel(p: PartitionSpec): string {
  return p.scheme === 'iid' ? 'iid' : `dirichlet-${p.alpha}`;
}

function partitionTitle(p: PartitionSpec): string {
  return p.scheme === 'iid' ? 'IID' : `non-IID (Dirichlet alpha ${p.alpha})`;
}

/** Builds the profile's experiment list (deduplicated by id, groups merged, by priority). */
export function buildPlan(profile: Profile): ExperimentPlan {
  const byId = new Map<string, Experiment>();
  const add = (spec: ExperimentSpec, group: GroupName, priority: number): string => {
    const existing = byId.get(spec.id);
    if (existing) {
      if (JSON.stringify(existing.spec) !== JSON.stringify(spec))
        throw new Error(`experiment id ${spec.id} names two different specs`);
      if (!existing.groups.includes(group)) existing.groups.push(group);
      existing.priority = Math.min(existing.priority, priority);
    } else {
      byId.set(spec.id, { spec, groups: [group], priority });
    }
    return spec.id;
  };

  const base = {
    width: profile.width,
    preprocessing: {
      inputSize: profile.inputSize,
      normalization: profile.normalization,
      equalize: profile.equalize,
    },
    modelSeed: profile.modelSeed,
    thresholdRule: profile.thresholdRule,
    bootstrapSamples: profile.bootstrapSamples,
    split: {
      valFraction: profile.valFraction,
      seed: profile.splitSeed,
      limit: profile.limit ?? null,
    },
  };
  const settings = (epochs: number, batchSize: number): TrainSettings => ({
    ...profile.recipe,
    epochs,
    batchSize,
  });
  const centralised = (
    architecture: ArchitectureName,
    batchSize: number,
    epochs: number,
  ): ExperimentSpec => ({
    id:
      `centralised/${architecture}/b${batchSize}` +
      (epochs === profile.centralisedEpochs ? '' : `-e${epochs}`),
    kind: 'centralised',
    title: `${displayName(architecture)}, centralised, batch ${batchSize}, ${plural(epochs, 'epoch')}`,
    architecture,
    ...base,
    settings: settings(epochs, batchSize),
  });
  const partitions: PartitionSpec[] = [
    { scheme: 'iid' },
    { scheme: 'dirichlet', alpha: profile.dirichletAlpha },
  ];
  const federated = (partition: PartitionSpec): ExperimentSpec => ({
    id: `federated/se-resnet18-gn/${partitionLabel(partition)}`,
    kind: 'federated',
    title: `FL-SE-ResNet-GN, ${profile.clients} hospitals ${partitionTitle(partition)}, ${plural(profile.rounds, 'round')} x ${plural(profile.localEpochs, 'local epoch')}`,
    architecture: 'se-resnet18-gn',
    ...base,
    settings: settings(profile.localEpochs, profile.batchSize),
    federation: {
      clients: profile.clients,
      rounds: profile.rounds,
      fraction: profile.fraction,
      maxDownloads: profile.rounds,
      partition,
      seed: profile.splitSeed,
    },
  });
  const budget = federatedEpochBudget(profile);
  const localOnly = (partition: PartitionSpec, index: number): ExperimentSpec => ({
    id: `local-only/se-resnet18-gn/${partitionLabel(partition)}/hospital-${index + 1}`,
    kind: 'local-only',
    title: `SE-ResNet-GN, hospital-${index + 1} alone (${partitionTitle(partition)} share), ${plural(budget, 'epoch')}`,
    architecture: 'se-resnet18-gn',
    ...base,
    settings: settings(budget, profile.batchSize),
    hospital: { index, clients: profile.clients, partition, seed: profile.splitSeed },
  });

  // Table 3 and the curves: the paper's headline comparison.
  const baselineEpochs = (architecture: ArchitectureName): number =>
    profile.table3Epochs?.[architecture] ?? profile.centralisedEpochs;
  const table3: ExperimentSpec[] = [
    federated(partitions[0]),
    centralised('se-resnet18-bn', profile.batchSize, profile.centralisedEpochs),
    ...(['alexnet', 'resnet18', 'vgg16'] as const).map((architecture) =>
      centralised(architecture, profile.batchSize, baselineEpochs(architecture)),
    ),
  ];
  const table3Priority = [0, 1, 30, 31, 40];
  table3.forEach((spec, i) => {
    add(spec, 'table3', table3Priority[i]);
    add(spec, 'curves', table3Priority[i]);
  });
  // Why federate: pooled centralised with the federation's epoch budget, each partition.
  add(centralised('se-resnet18-gn', profile.batchSize, budget), 'federate', 2);
  partitions.forEach((partition, p) => {
    add(federated(partition), 'federate', p === 0 ? 0 : 3);
    for (let h = 0; h < profile.clients; h++)
      add(localOnly(partition, h), 'federate', 10 + p * profile.clients + h);
  });
  // Why federate, non-IID: the same federation with class weights from all shares' counts.
  const dirichletFederated = federated(partitions[1]);
  add(
    {
      ...dirichletFederated,
      id: `${dirichletFederated.id}-federation-weights`,
      title: `${dirichletFederated.title}, federation-wide class weights`,
      classWeights: 'federation',
    },
    'federate',
    4,
  );
  // The operating point: the IID federation again, calibrated on the hospitals' held-out splits.
  const iid = federated(partitions[0]);
  const c = profile.calibration;
  add(
    {
      ...iid,
      id: `${iid.id}-calibrated`,
      title: `${iid.title}, ${Math.round(c.fraction * 100)}% of each share held out, threshold ${c.rule} on it`,
      calibration: { ...c },
    },
    'threshold',
    1,
  );
  add(iid, 'threshold', 0);
  // Table 2: both normalisations at every batch size.
  profile.table2Batches.forEach((batch, b) => {
    for (const architecture of ['se-resnet18-gn', 'se-resnet18-bn'] as const)
      add(centralised(architecture, batch, profile.centralisedEpochs), 'table2', 20 + b);
  });

  const experiments = [...byId.values()].sort(
    (a, b) => a.priority - b.priority || a.spec.id.localeCompare(b.spec.id),
  );
  return { profile, experiments };
}

/**
 * The experiments selected by --only: group names (table2, table3, federate, curves) and/or
 * experiment ids, where a trailing * matches an id prefix. Empty selection = everything.
 */
export function selectExperiments(plan: ExperimentPlan, only: readonly string[]): Experiment[] {
  if (only.length === 0) return plan.experiments;
  const unknown: string[] = [];
  const selected = new Set<string>();
  for (const item of only) {
    const matches = plan.experiments.filter((e) =>
      (GROUP_NAMES as readonly string[]).includes(item)
        ? e.groups.includes(item as GroupName)
        : item.endsWith('*')
          ? e.spec.id.startsWith(item.slice(0, -1))
          : e.spec.id === item,
    );
    if (matches.length === 0) unknown.push(item);
    for (const e of matches) selected.add(e.spec.id);
  }
  if (unknown.length > 0)
    throw new Error(
      `--only: nothing matches ${unknown.join(', ')} (groups: ${GROUP_NAMES.join(', ')}; or experiment ids, a trailing * for a prefix)`,
    );
  return plan.experiments.filter((e) => selected.has(e.spec.id));
}

/**
 * Threads one experiment trains on: a federation uses `workers` (hospitals in parallel); a
 * centralised or local-only one `threads` (data-parallel), except BatchNorm models, whose
 * statistics would otherwise come from each thread's part of the batch: those get 1.
 */
export function experimentThreads(spec: ExperimentSpec, threads: number): number {
  return spec.kind === 'federated' || usesBatchNorm(spec.architecture) ? 1 : Math.max(1, threads);
}
