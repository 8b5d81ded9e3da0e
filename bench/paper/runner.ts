import { toHistoryPoint } from '../../shared/report/history.ts';
/**
 * Runs one experiment of the paper suite in this process with the engine's APIs and writes
 * `<results>/<id>.json`: centralised runs through runCentralised, federated runs through
 * runSimulation (hospitals trained in parallel worker threads when there is more than one
 * core), local-only runs through runCentralised on one hospital's share (trainLocal one epoch
 * at a time, scoring the validation split after each). Every run is then scored on the same
 * patient-level validation split with computeMetrics (95% intervals).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { availableParallelism, cpus, hostname, loadavg, totalmem } from 'node:os';
import { relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { prepareData } from '../../shared/cli/data-setup.ts';
import {
  ImageCache,
  loadDataset,
  partitionByPatient,
  summarize,
  type XrayRecord,
} from '../../shared/data/index.ts';
import { runSimulation, type FederationClassWeights } from '../../shared/federated/simulation.ts';
import { WorkerPoolTrainer } from '../../shared/federated/worker-trainer.ts';
import {
  chooseThreshold,
  computeMetrics,
  parseThresholdRule,
  type EvaluationReport,
  type ThresholdChoice,
} from '../../shared/metrics/index.ts';
import { buildModel } from '../../shared/model/architectures.ts';
import { GradientPeers } from '../../shared/training/data-parallel.ts';
import { saveModelDir } from '../../shared/model/model-dir.ts';
import { runCentralised, type EpochReport } from '../../shared/pipeline/centralised.ts';
import type { BackendInfo } from '../../shared/tf/backend.ts';
import type { TrainProgress } from '../../shared/training/local-train.ts';
import { predictRecords } from '../../shared/training/predict.ts';
import { calibrateOnHospitals, type CalibrationInfo } from '../../shared/federated/calibration.ts';
import {
  experimentThreads,
  type ExperimentSpec,
  type GroupName,
  type PartitionSpec,
} from './experiments.ts';
import type { ProfileName } from './profiles.ts';
import {
  RESULT_FORMAT,
  RESULT_VERSION,
  resultPath,
  writeJsonAtomic,
  type DataIdentity,
  type ExperimentResult,
  type MachineInfo,
  type PartitionInfo,
  type ResultHistoryPoint,
} from './results.ts';

const exec = promisify(execFile);

/** The training data and the validation split shared by every experiment of a run. */
export interface SuiteData {
  train: XrayRecord[];
  val: XrayRecord[];
  identity: DataIdentity;
}

function recordsHash(dataDir: string, records: readonly XrayRecord[]): string {
  const lines = records
    .map((r) => `${relative(dataDir, r.path).split(sep).join('/')}\t${r.label}\t${r.patientId}`)
    .sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

/**
 * Loads --data and carves the validation split exactly as `fedxray train|simulate` do
 * (prepareData: optional seeded --limit subset, then splitByPatient by patient, stratified).
 */
export async function loadSuiteData(
  dataDir: string,
  split: { valFraction: number; seed: number; limit: number | null },
): Promise<SuiteData> {
  const all = await loadDataset(dataDir);
  const prepared = await prepareData({
    dataDir,
    valFraction: split.valFraction,
    seed: split.seed,
    limit: split.limit ?? undefined,
  });
  if (prepared.val.length === 0)
    throw new Error(`The validation split of ${dataDir} is empty: use more images`);
  const t = summarize(prepared.train);
  const v = summarize(prepared.val);
  return {
    train: prepared.train,
    val: prepared.val,
    identity: {
      dataDir,
      images: all.length,
      usedImages: prepared.train.length + prepared.val.length,
      trainImages: prepared.train.length,
      trainPatients: t.patients,
      valImages: prepared.val.length,
      valPatients: v.patients,
      valPneumonia: prepared.val.filter((r) => r.label === 1).length,
      trainHash: recordsHash(dataDir, prepared.train),
      valHash: recordsHash(dataDir, prepared.val),
      description: prepared.description,
    },
  };
}

/** The hospital shares of a partition, exactly as runSimulation makes them. */
export function hospitalShares(
  train: readonly XrayRecord[],
  p: { clients: number; partition: PartitionSpec; seed: number },
): XrayRecord[][] {
  return partitionByPatient([...train], {
    clients: p.clients,
    scheme: p.partition.scheme,
    alpha: p.partition.alpha ?? 0.5,
    seed: p.seed,
  });
}

function describeShare(clientId: string, records: readonly XrayRecord[]): PartitionInfo {
  return {
    clientId,
    images: records.length,
    pneumonia: records.filter((r) => r.label === 1).length,
    patients: new Set(records.map((r) => r.patientId)).size,
  };
}

async function gpuName(): Promise<string | undefined> {
  try {
    const { stdout } = await exec(
      'nvidia-smi',
      ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader'],
      { timeout: 5000 },
    );
    const text = stdout.trim();
    return text === '' ? undefined : text.split('\n').join('; ');
  } catch {
    return undefined;
  }
}

let machineBase: Promise<Omit<MachineInfo, 'loadAverageStart' | 'loadAverageEnd'>> | undefined;

/** cpus, model, memory and GPU of this machine (GPU via nvidia-smi when present). */
export function describeMachine(): Promise<
  Omit<MachineInfo, 'loadAverageStart' | 'loadAverageEnd'>
> {
  machineBase ??= gpuName().then((gpu) => ({
    hostname: hostname(),
    platform: process.platform,
    arch: process.arch,
    cpus: cpus().length,
    availableParallelism: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    ...(gpu ? { gpu } : {}),
  }));
  return machineBase;
}

let commit: Promise<string | undefined> | undefined;

function gitCommit(): Promise<string | undefined> {
  commit ??= exec('git', ['rev-parse', 'HEAD'], { timeout: 5000 }).then(
    ({ stdout }) => stdout.trim() || undefined,
    () => undefined,
  );
  return commit;
}

/** How many worker threads train hospitals at once: one per core on CPU backends, 1 on a native backend. */
export function defaultWorkers(backend: BackendInfo, clients: number): number {
  if (backend.name === 'tensorflow') return 1; // one GPU (or native thread pool) per process
  return Math.max(1, Math.min(availableParallelism(), clients));
}

export interface RunContext {
  profile: ProfileName;
  dryRun: boolean;
  groups: GroupName[];
  data: SuiteData;
  backend: BackendInfo;
  cache: ImageCache;
  resultsDir: string;
  /** Worker threads for federated runs; undefined = defaultWorkers. */
  workers?: number;
  /**
   * Data-parallel threads for a centralised or local-only experiment of a model without
   * BatchNorm (experimentThreads); default 1.
   */
  threads?: number;
  /** Experiments running at once on this machine (recorded with the result). */
  jobs: number;
  /** Also save each trained model as a fedxray model directory `<dir>/<id>/`. */
  modelsDir?: string;
  log: (message: string) => void;
}

function historyFromEpochs(reports: EpochReport[]): ResultHistoryPoint[] {
  return reports.map((r) => ({
    ...toHistoryPoint(r.epoch, r),
    epochs: r.epoch,
    seconds: r.seconds,
  }));
}

function fmt(x: number | undefined, digits = 4): string {
  return x === undefined ? '-' : x.toFixed(digits);
}

/** Runs the experiment, writes its result file and returns the result. */
export async function runExperiment(
  spec: ExperimentSpec,
  ctx: RunContext,
): Promise<ExperimentResult> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const loadAverageStart = loadavg();
  const { data, log } = ctx;
  const prefix = `[${spec.id}]`;
  const model = buildModel(spec.architecture, {
    inputSize: spec.preprocessing.inputSize,
    width: spec.width,
    seed: spec.modelSeed,
  });
  let lastLog = performance.now();
  const progress = (what: string, p: TrainProgress): void => {
    if (performance.now() - lastLog < 60_000) return;
    lastLog = performance.now();
    log(
      `${prefix} ${what} epoch ${p.epoch}/${p.epochs} step ${p.step}/${p.stepsPerEpoch} loss ${p.loss.toFixed(3)} acc ${p.accuracy.toFixed(3)} ${p.imagesPerSecond.toFixed(1)} img/s`,
    );
  };
  const onEpochEnd = (r: EpochReport): void =>
    log(
      `${prefix} epoch ${r.epoch}/${spec.settings.epochs}: train loss ${fmt(r.trainLoss)} acc ${fmt(r.trainAccuracy)}, val loss ${fmt(r.val?.loss)} acc ${fmt(r.val?.accuracy)} auc ${fmt(r.val?.auc)} (${r.seconds.toFixed(1)} s)`,
    );

  let history: ResultHistoryPoint[];
  let stepLabel: 'epoch' | 'round';
  let partitions: PartitionInfo[] | undefined;
  let rounds: ExperimentResult['rounds'];
  let trainedImages: number;
  let trainSeconds: number;
  let workers = 1;
  let calibrationSplits: { clientId: string; records: readonly XrayRecord[] }[] = [];
  let classWeights: FederationClassWeights | undefined;
  try {
    if (spec.kind === 'federated') {
      const fed = spec.federation;
      if (!fed) throw new Error(`${spec.id}: a federated experiment needs a federation spec`);
      workers = Math.min(ctx.workers ?? defaultWorkers(ctx.backend, fed.clients), fed.clients);
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
        stepLabel = 'round';
        history = result.rounds.map((r) => ({
          ...toHistoryPoint(r.round, r),
          epochs: r.round * spec.settings.epochs,
          seconds: r.seconds,
        }));
        partitions = result.partitions;
        calibrationSplits = result.calibration;
        if (result.classWeights.source === 'federation') {
          classWeights = result.classWeights;
          log(
            `${prefix} federation-wide class weights NORMAL ${fmt(classWeights.weights[0])}, PNEUMONIA ${fmt(classWeights.weights[1])} from ${classWeights.counts[0]} NORMAL and ${classWeights.counts[1]} PNEUMONIA images`,
          );
        }
        rounds = result.rounds.map((r) => ({ round: r.round, clients: r.clients }));
        trainedImages = result.rounds.reduce(
          (sum, r) => sum + r.clients.reduce((s, c) => s + c.numSamples, 0) * spec.settings.epochs,
          0,
        );
        // Training wall time of each round: the hospitals' own training times laid out on the
        // workers as mapWithConcurrency does (round seconds would also count validation).
        trainSeconds = result.rounds.reduce(
          (sum, r) =>
            sum +
            (workers > 1
              ? parallelSeconds(
                  r.clients.map((c) => c.seconds),
                  workers,
                )
              : r.clients.reduce((s, c) => s + c.seconds, 0)),
          0,
        );
      } finally {
        await trainer?.close();
      }
    } else {
      let records: readonly XrayRecord[] = data.train;
      if (spec.kind === 'local-only') {
        const h = spec.hospital;
        if (!h) throw new Error(`${spec.id}: a local-only experiment needs a hospital spec`);
        const shares = hospitalShares(data.train, h);
        records = shares[h.index];
        partitions = [describeShare(`hospital-${h.index + 1}`, records)];
        log(`${prefix} hospital-${h.index + 1} alone: ${records.length} images`);
      }
      workers = experimentThreads(spec, ctx.threads ?? 1);
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
        reports = await runCentralised(
          model,
          records,
          data.val,
          spec.settings,
          spec.preprocessing,
          { cache: ctx.cache, peers, onProgress: (p) => progress('train', p), onEpochEnd },
        );
      } finally {
        await peers?.close();
      }
      stepLabel = 'epoch';
      history = historyFromEpochs(reports);
      trainedImages = records.length * spec.settings.epochs;
      trainSeconds = reports.reduce((s, r) => s + r.seconds, 0);
    }

    const predictions = await predictRecords(model, data.val, spec.preprocessing, {
      cache: ctx.cache,
    });
    let threshold: ThresholdChoice;
    let calibration: CalibrationInfo | undefined;
    if (spec.calibration) {
      calibration = await calibrateOnHospitals(
        model,
        calibrationSplits,
        spec.calibration,
        spec.preprocessing,
        ctx.cache,
      );
      threshold = calibration.threshold;
      log(
        `${prefix} threshold ${fmt(threshold.threshold)} from ${calibration.images} held-out images of ${calibration.hospitals.length} hospitals: ${threshold.description}`,
      );
    } else {
      threshold = chooseThreshold(
        predictions.labels,
        predictions.probabilities,
        parseThresholdRule(spec.thresholdRule),
      );
    }
    const score = (at: number): EvaluationReport =>
      computeMetrics(predictions.labels, predictions.probabilities, {
        threshold: at,
        bootstrapSamples: spec.bootstrapSamples,
        seed: spec.split.seed,
      });
    const metrics = score(threshold.threshold);
    const metricsAtDefault = calibration ? score(0.5) : undefined;
    const parameters = model.countParams();
    if (ctx.modelsDir) {
      await saveModelDir(`${ctx.modelsDir}/${spec.id}`, model, {
        format: 'fedxray-model',
        version: 1,
        architecture: spec.architecture,
        width: spec.width,
        preprocessing: spec.preprocessing,
        classes: ['NORMAL', 'PNEUMONIA'],
        threshold,
        parameters,
        createdAt: new Date().toISOString(),
        training: { source: 'bench/paper', id: spec.id, spec },
        validation: metrics,
      });
    }
    const machine = await describeMachine();
    const wallSeconds = (performance.now() - started) / 1000;
    const result: ExperimentResult = {
      format: RESULT_FORMAT,
      version: RESULT_VERSION,
      id: spec.id,
      kind: spec.kind,
      title: spec.title,
      groups: ctx.groups,
      profile: ctx.profile,
      dryRun: ctx.dryRun,
      spec,
      data: data.identity,
      metrics,
      valLoss: predictions.loss,
      threshold,
      ...(calibration ? { calibration, metricsAtDefault } : {}),
      ...(classWeights ? { classWeights } : {}),
      stepLabel,
      history,
      ...(partitions ? { partitions } : {}),
      ...(rounds ? { rounds } : {}),
      parameters,
      wallSeconds,
      trainSeconds,
      trainImagesPerSecond: trainSeconds > 0 ? trainedImages / trainSeconds : 0,
      backend: ctx.backend,
      workers,
      jobs: ctx.jobs,
      machine: { ...machine, loadAverageStart, loadAverageEnd: loadavg() },
      software: { node: process.version, commit: await gitCommit() },
      startedAt,
      finishedAt: new Date().toISOString(),
    };
    await writeJsonAtomic(resultPath(ctx.resultsDir, spec.id), result);
    log(
      `${prefix} done in ${wallSeconds.toFixed(1)} s: accuracy ${metrics.accuracy.value.toFixed(4)}, AUC ${metrics.auc.value.toFixed(4)} (n = ${metrics.n})`,
    );
    return result;
  } finally {
    model.dispose();
  }
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
