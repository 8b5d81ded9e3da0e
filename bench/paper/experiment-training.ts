/**
 * Trains an experiment's model with the engine's APIs: federated runs through runSimulation
 * (hospitals in parallel worker threads when there is more than one), centralised and
 * local-only runs through runCentralised (local-only on one hospital's share), and says what
 * the training did for the result file.
 */
import { availableParallelism } from 'node:os';
import type { ImageCache, XrayRecord } from '../../shared/data/index.ts';
import { runSimulation, type FederationClassWeights } from '../../shared/federated/simulation.ts';
import { WorkerPoolTrainer } from '../../shared/federated/worker-trainer.ts';
import { runCentralised, type EpochReport } from '../../shared/pipeline/centralised.ts';
import { toHistoryPoint } from '../../shared/report/history.ts';
import type { BackendInfo } from '../../shared/tf/backend.ts';
import type { tf } from '../../shared/tf/tf.ts';
import { GradientPeers } from '../../shared/training/data-parallel.ts';
import { fmt, type ExperimentLog } from './experiment-log.ts';
import { experimentThreads, type ExperimentSpec } from './experiments.ts';
import type { ExperimentResult, PartitionInfo, ResultHistoryPoint } from './results.ts';
import { describeShare, hospitalShares, type SuiteData } from './suite-data.ts';

export interface TrainingContext {
  data: SuiteData;
  backend: BackendInfo;
  cache: ImageCache;
  /** Worker threads for federated runs; undefined = defaultWorkers. */
  workers?: number;
  /**
   * Data-parallel threads for a centralised or local-only experiment of a model without
   * BatchNorm (experimentThreads); default 1.
   */
  threads?: number;
}

/** What the training did, as the result file records it. */
export interface Training {
  stepLabel: 'epoch' | 'round';
  history: ResultHistoryPoint[];
  partitions?: PartitionInfo[];
  rounds?: ExperimentResult['rounds'];
  trainedImages: number;
  trainSeconds: number;
  /** Threads that trained: hospitals at once (federated) or data-parallel threads. */
  workers: number;
  /** The hospitals' held-out calibration splits (federated runs with calibration). */
  calibrationSplits: { clientId: string; records: readonly XrayRecord[] }[];
  /** Set when the federation used federation-wide class weights. */
  classWeights?: FederationClassWeights;
}

/** How many worker threads train hospitals at once: one per core on CPU backends, 1 on a native backend. */
export function defaultWorkers(backend: BackendInfo, clients: number): number {
  if (backend.name === 'tensorflow') return 1; // one GPU (or native thread pool) per process
  return Math.max(1, Math.min(availableParallelism(), clients));
}

/** Trains `model` as the experiment says. */
export function trainExperiment(
  spec: ExperimentSpec,
  model: tf.LayersModel,
  ctx: TrainingContext,
  logs: ExperimentLog,
): Promise<Training> {
  return spec.kind === 'federated'
    ? trainFederated(spec, model, ctx, logs)
    : trainCentralised(spec, model, ctx, logs);
}

async function trainFederated(
  spec: ExperimentSpec,
  model: tf.LayersModel,
  ctx: TrainingContext,
  { prefix, log, progress }: ExperimentLog,
): Promise<Training> {
  const { data } = ctx;
  const fed = spec.federation;
  if (!fed) throw new Error(`${spec.id}: a federated experiment needs a federation spec`);
  const workers = Math.min(ctx.workers ?? defaultWorkers(ctx.backend, fed.clients), fed.clients);
  const trainer =
    workers > 1
      ? new WorkerPoolTrainer(
          {
            architecture: spec.architecture,
            inputSize: spec.preprocessing.inputSize,
            width: spec.width,
            backend: ctx.backend.name,
            cacheBytes: ctx.cache.maxBytes,
          },
          workers,
        )
      : undefined;
  log(
    `${prefix} ${fed.clients} hospitals, ${fed.rounds} rounds x ${spec.settings.epochs} local epochs, ${workers} worker(s)`,
  );
  try {
    const result = await runSimulation(
      model,
      data.train,
      data.val,
      {
        clients: fed.clients,
        rounds: fed.rounds,
        fraction: fed.fraction,
        maxDownloads: fed.maxDownloads,
        partition: { scheme: fed.partition.scheme, alpha: fed.partition.alpha ?? 0.5 },
        local: spec.settings,
        preprocessing: spec.preprocessing,
        seed: fed.seed,
        calibrationFraction: spec.calibration?.fraction,
        classWeights: spec.classWeights ?? 'local',
      },
      {
        cache: ctx.cache,
        trainer,
        onClientProgress: (_round, clientId, p) => progress(clientId, p),
        onRoundEnd: (r) =>
          log(
            `${prefix} round ${r.round}/${fed.rounds}: train loss ${fmt(r.trainLoss)} acc ${fmt(r.trainAccuracy)}, val loss ${fmt(r.val?.loss)} acc ${fmt(r.val?.accuracy)} auc ${fmt(r.val?.auc)} (${r.seconds.toFixed(1)} s)`,
          ),
      },
    );
    let classWeights: FederationClassWeights | undefined;
    if (result.classWeights.source === 'federation') {
      classWeights = result.classWeights;
      log(
        `${prefix} federation-wide class weights NORMAL ${fmt(classWeights.weights[0])}, PNEUMONIA ${fmt(classWeights.weights[1])} from ${classWeights.counts[0]} NORMAL and ${classWeights.counts[1]} PNEUMONIA images`,
      );
    }
    return {
      stepLabel: 'round',
      history: result.rounds.map((r) => ({
        ...toHistoryPoint(r.round, r),
        epochs: r.round * spec.settings.epochs,
        seconds: r.seconds,
      })),
      partitions: result.partitions,
      calibrationSplits: result.calibration,
      classWeights,
      rounds: result.rounds.map((r) => ({ round: r.round, clients: r.clients })),
      trainedImages: result.rounds.reduce(
        (sum, r) => sum + r.clients.reduce((s, c) => s + c.numSamples, 0) * spec.settings.epochs,
        0,
      ),
      // Training wall time of each round: the hospitals' own training times laid out on the
      // workers as mapWithConcurrency does (round seconds would also count validation).
      trainSeconds: result.rounds.reduce(
        (sum, r) =>
          sum +
          (workers > 1
            ? parallelSeconds(
                r.clients.map((c) => c.seconds),
                workers,
              )
            : r.clients.reduce((s, c) => s + c.seconds, 0)),
        0,
      ),
      workers,
    };
  } finally {
    await trainer?.close();
  }
}

async function trainCentralised(
  spec: ExperimentSpec,
  model: tf.LayersModel,
  ctx: TrainingContext,
  { prefix, log, progress, onEpochEnd }: ExperimentLog,
): Promise<Training> {
  const { data } = ctx;
  let records: readonly XrayRecord[] = data.train;
  let partitions: PartitionInfo[] | undefined;
  if (spec.kind === 'local-only') {
    const h = spec.hospital;
    if (!h) throw new Error(`${spec.id}: a local-only experiment needs a hospital spec`);
    const shares = hospitalShares(data.train, h);
    records = shares[h.index];
    partitions = [describeShare(`hospital-${h.index + 1}`, records)];
    log(`${prefix} hospital-${h.index + 1} alone: ${records.length} images`);
  }
  const workers = experimentThreads(spec, ctx.threads ?? 1);
  const peers = await GradientPeers.forThreads(
    {
      architecture: spec.architecture,
      inputSize: spec.preprocessing.inputSize,
      width: spec.width,
      backend: ctx.backend.name,
    },
    workers,
  );
  if (peers) log(`${prefix} data-parallel on ${workers} threads`);
  let reports: EpochReport[];
  try {
    reports = await runCentralised(model, records, data.val, spec.settings, spec.preprocessing, {
      cache: ctx.cache,
      peers,
      onProgress: (p) => progress('train', p),
      onEpochEnd,
    });
  } finally {
    await peers?.close();
  }
  return {
    stepLabel: 'epoch',
    history: historyFromEpochs(reports),
    partitions,
    trainedImages: records.length * spec.settings.epochs,
    trainSeconds: reports.reduce((s, r) => s + r.seconds, 0),
    workers,
    calibrationSplits: [],
  };
}

function historyFromEpochs(reports: EpochReport[]): ResultHistoryPoint[] {
  return reports.map((r) => ({
    ...toHistoryPoint(r.epoch, r),
    epochs: r.epoch,
    seconds: r.seconds,
  }));
}

/** Wall time of jobs of the given durations run `slots` at a time in order (greedy, like mapWithConcurrency). */
function parallelSeconds(durations: number[], slots: number): number {
  const lanes = new Array<number>(Math.max(1, slots)).fill(0);
  for (const d of durations) {
    let best = 0;
    for (let i = 1; i < lanes.length; i++) if (lanes[i] < lanes[best]) best = i;
    lanes[best] += d;
  }
  return Math.max(...lanes);
}
