import {
  classCounts,
  pooledClassWeights,
  partitionByPatient,
  splitByPatient,
  type ImageCache,
  type XrayRecord,
} from '../data/index.ts';
import { getModelWeights, setModelWeights, type WeightArray } from '../model/model-weights.ts';
import { mapWithConcurrency } from '../util/concurrency.ts';
import { inMemoryWeights } from './strategy-utils.ts';
import type { tf } from '../tf/tf.ts';
import type { TrainProgress } from '../training/local-train.ts';
import { scoreValidation, type ValidationScore } from '../training/predict.ts';
import type { Preprocessing } from '../training/preprocessing.ts';
import type { TrainSettings } from '../training/settings.ts';
import { createRng } from '../util/random.ts';
import { InProcessTrainer, type ClientJob, type ClientTrainer } from './client-trainer.ts';
import { DownloadLedger } from './download-ledger.ts';
import { FedAvg } from './fedavg.ts';
import type { ClientResult, Strategy } from './strategy.ts';
import type { CheckpointStore } from './checkpoint.ts';

/**
 * Whose class counts weight the classes of a hospital's loss (classBalancing 'weights'):
 * 'local', its own share's; 'federation', the summed counts of every hospital's training
 * records, the same weights everywhere.
 */
export type ClassWeightsSource = 'local' | 'federation';
export const CLASS_WEIGHTS_SOURCES: readonly ClassWeightsSource[] = ['local', 'federation'];

/** The one set of class weights of a federation, and the counts they came from. */
export interface FederationClassWeights {
  source: 'federation';
  /** Summed [NORMAL, PNEUMONIA] images the hospitals train on (calibration splits excluded). */
  counts: [number, number];
  /** [NORMAL, PNEUMONIA]: classWeightsFromCounts(counts). */
  weights: [number, number];
}

/** The class weights of a run: each hospital its own, or the federation's one set. */
export type ClassWeightsUsed = { source: 'local' } | FederationClassWeights;

export interface SimulationConfig {
  /** J: number of simulated hospitals. */
  clients: number;
  /** T: communication rounds. */
  rounds: number;
  /** C: fraction of hospitals sampled per round. */
  fraction: number;
  /** S_max: downloads of the global model allowed per hospital. */
  maxDownloads: number;
  partition: { scheme: 'iid' | 'dirichlet'; alpha: number };
  /** Local training: epochs is E, batchSize is B, learningRate is eta. */
  local: TrainSettings;
  preprocessing: Preprocessing;
  seed: number;
  /**
   * Fraction of each hospital's share held out by patient (like a node's VAL_FRACTION) and
   * never trained on: its calibration split, on which the operating threshold is chosen.
   * 0 or absent: every image of the share is trained on.
   */
  calibrationFraction?: number;
  /**
   * Default 'local'. 'federation' needs local.classBalancing 'weights': with FedAvg weighting
   * hospitals by n_j / n, weights from the summed counts make every hospital's loss a share of
   * the pooled class-weighted loss, while each hospital's own weights can give its few images
   * of a rare class hundreds of times their pooled weight (docs/engine.md).
   */
  classWeights?: ClassWeightsSource;
}

export interface ClientRoundReport {
  clientId: string;
  numSamples: number;
  loss: number;
  accuracy: number;
  seconds: number;
}

export interface RoundReport {
  round: number;
  selected: string[];
  skipped: { clientId: string; reason: string }[];
  clients: ClientRoundReport[];
  trainLoss: number;
  trainAccuracy: number;
  val?: ValidationScore;
  seconds: number;
}

export interface SimulationHooks {
  strategy?: Strategy;
  /** Who runs local training; default: this process, on `model`, one client at a time. */
  trainer?: ClientTrainer;
  cache?: ImageCache;
  /** `images` is the number of local training images of the selected hospitals (one epoch). */
  onRoundStart?: (round: number, selected: string[], images: number) => void;
  onClientProgress?: (round: number, clientId: string, p: TrainProgress) => void;
  onRoundEnd?: (report: RoundReport) => void;
  /** False ends the simulation before `round` (a DP budget that one more round would exceed). */
  beforeRound?: (round: number) => boolean;
  /**
   * Where the global model is saved after each round; a run that finds a checkpoint there
   * continues after its round (the same result as an uninterrupted run).
   */
  checkpoint?: CheckpointStore;
}

export interface ClientShareInfo {
  clientId: string;
  /** Images trained on (the share less its calibration split). */
  images: number;
  pneumonia: number;
  patients: number;
  /** Images of the calibration split, when calibrationFraction > 0. */
  calibrationImages?: number;
}

export interface SimulationResult {
  rounds: RoundReport[];
  partitions: ClientShareInfo[];
  /** Each hospital's held-out calibration split (empty when calibrationFraction is 0). */
  calibration: { clientId: string; records: XrayRecord[] }[];
  downloads: Record<string, number>;
  classWeights: ClassWeightsUsed;
  weights: WeightArray[];
}

/** The training seed of one client in one round: distinct, and reproducible from the run seed. */
export function clientSeed(runSeed: number, round: number, clientIndex: number): number {
  return runSeed * 7919 + round * 101 + clientIndex;
}

export function clientId(index: number): string {
  return `hospital-${index + 1}`;
}

/**
 * The class weights every hospital trains with. For 'federation' they are computed once from
 * the summed class counts of the records each hospital trains on.
 */
export function resolveClassWeights(
  source: ClassWeightsSource,
  settings: TrainSettings,
  trainedOn: readonly (readonly XrayRecord[])[],
): ClassWeightsUsed {
  if (source === 'local') return { source };
  if (source !== 'federation')
    throw new Error(`classWeights must be local or federation (got ${String(source)})`);
  if (settings.classBalancing !== 'weights')
    throw new Error(
      `classWeights 'federation' needs classBalancing 'weights' (got ${settings.classBalancing})`,
    );
  return { source, ...pooledClassWeights(trainedOn.map(classCounts)) };
}

/**
 * Runs federated training in one process: J simulated hospitals, each with its own
 * patient-level partition, T rounds of sample / local training / aggregation. Local training
 * runs through hooks.trainer: by default on `model` itself, one client after the other.
 */
export async function runSimulation(
  model: tf.LayersModel,
  train: readonly XrayRecord[],
  val: readonly XrayRecord[],
  config: SimulationConfig,
  hooks: SimulationHooks = {},
): Promise<SimulationResult> {
  const shards = partitionByPatient([...train], {
    clients: config.clients,
    scheme: config.partition.scheme,
    alpha: config.partition.alpha,
    seed: config.seed,
  });
  const clients = shards.map((share, i) => {
    const fraction = config.calibrationFraction ?? 0;
    if (fraction <= 0) return { id: clientId(i), records: share, calibration: [] };
    const split = splitByPatient(share, {
      valFraction: fraction,
      seed: clientSeed(config.seed, 0, i),
    });
    return { id: clientId(i), records: split.train, calibration: split.val };
  });
  const classWeights = resolveClassWeights(
    config.classWeights ?? 'local',
    config.local,
    clients.map((c) => c.records),
  );
  const local: TrainSettings =
    classWeights.source === 'federation'
      ? { ...config.local, classWeights: classWeights.weights }
      : config.local;
  const strategy = hooks.strategy ?? new FedAvg({ fraction: config.fraction });
  const ledger = new DownloadLedger(config.maxDownloads);
  const rng = createRng(config.seed);
  const trainer = hooks.trainer ?? new InProcessTrainer(model, hooks.cache);
  const reports: RoundReport[] = [];
  const availableClients = () =>
    clients
      .filter((c) => ledger.canDownload(c.id))
      .map((c) => ({ id: c.id, numSamples: c.records.length }));
  let global = getModelWeights(model);
  /** w_{t-2} for strategies that read it (FedAvgM's velocity). */
  let previousInput: WeightArray[] | undefined;
  let firstRound = 1;
  const resumed = await hooks.checkpoint?.load();
  if (resumed) {
    // The checkpoint holds the last global model only, not the input before it.
    if (strategy.usesPreviousInput)
      throw new Error(
        `resuming from a checkpoint needs a strategy that does not read the previous round's input model (got ${strategy.name})`,
      );
    // Replays the selections (and so the generator and the download ledger) of the done rounds.
    for (let round = 1; round <= resumed.round; round++) {
      for (const instruction of strategy.configureFit(round, availableClients(), rng))
        ledger.record(instruction.clientId);
    }
    global = resumed.global;
    setModelWeights(model, global);
    reports.push(...resumed.reports);
    firstRound = resumed.round + 1;
  }

  for (let round = firstRound; round <= config.rounds; round++) {
    if (hooks.beforeRound && !hooks.beforeRound(round)) break;
    const started = performance.now();
    const skipped = clients
      .filter((c) => !ledger.canDownload(c.id))
      .map((c) => ({
        clientId: c.id,
        reason: `download limit S_max = ${config.maxDownloads} reached`,
      }));
    const instructions = strategy.configureFit(round, availableClients(), rng);
    if (instructions.length === 0) {
      throw new Error(
        `Round ${round}: no hospital may download the model any more (S_max = ${config.maxDownloads})`,
      );
    }
    const selected = instructions.map((i) => i.clientId);

    const jobs = instructions.map((instruction) => {
      const index = clients.findIndex((c) => c.id === instruction.clientId);
      ledger.record(instruction.clientId);
      const job: ClientJob = {
        clientId: instruction.clientId,
        records: clients[index].records,
        global,
        settings: { ...local, seed: clientSeed(config.seed, round, index) },
        preprocessing: config.preprocessing,
        schedule: {
          startEpoch: (round - 1) * config.local.epochs,
          totalEpochs: config.rounds * config.local.epochs,
        },
      };
      return job;
    });
    hooks.onRoundStart?.(
      round,
      selected,
      jobs.reduce((sum, j) => sum + j.records.length, 0),
    );
    const outcomes = await mapWithConcurrency(jobs, trainer.concurrency, (job) =>
      trainer.train(job, (p) => hooks.onClientProgress?.(round, job.clientId, p)),
    );
    const results: ClientResult[] = outcomes.map((result, i) => ({
      clientId: jobs[i].clientId,
      numSamples: result.numSamples,
      weights: inMemoryWeights(result.weights),
    }));
    const clientReports: ClientRoundReport[] = outcomes.map((result, i) => ({
      clientId: jobs[i].clientId,
      numSamples: result.numSamples,
      loss: result.loss,
      accuracy: result.accuracy,
      seconds: result.seconds,
    }));

    const input = global;
    const before = previousInput;
    const aggregate = await strategy.aggregateFit(
      { round, current: input, previousInput: async () => before },
      results,
    );
    if (!aggregate.weights)
      throw new Error(
        `Round ${round}: no update was left to aggregate (${aggregate.rejected.map((r) => `${r.clientId}: ${r.reason}`).join('; ')})`,
      );
    previousInput = input;
    global = aggregate.weights;
    setModelWeights(model, global);
    const n = clientReports.reduce((s, c) => s + c.numSamples, 0);
    const report: RoundReport = {
      round,
      selected,
      skipped,
      clients: clientReports,
      trainLoss: clientReports.reduce((s, c) => s + c.loss * c.numSamples, 0) / n,
      trainAccuracy: clientReports.reduce((s, c) => s + c.accuracy * c.numSamples, 0) / n,
      seconds: 0,
    };
    report.val = await scoreValidation(model, val, config.preprocessing, hooks.cache);
    report.seconds = (performance.now() - started) / 1000;
    reports.push(report);
    await hooks.checkpoint?.save({ round, global, reports });
    hooks.onRoundEnd?.(report);
  }

  return {
    rounds: reports,
    partitions: clients.map((c) => ({
      clientId: c.id,
      images: c.records.length,
      pneumonia: c.records.filter((r) => r.label === 1).length,
      patients: new Set(c.records.map((r) => r.patientId)).size,
      ...(c.calibration.length > 0 ? { calibrationImages: c.calibration.length } : {}),
    })),
    calibration: clients
      .filter((c) => c.calibration.length > 0)
      .map((c) => ({ clientId: c.id, records: c.calibration })),
    downloads: ledger.snapshot(),
    classWeights,
    weights: global,
  };
}
