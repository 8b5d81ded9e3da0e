/**
 * Wall-time estimates of the suite on the project's 2-core machines (wasm backend), from the
 * measurements of docs/benchmarks.md. Rough (±30%): they are for planning sessions, and every
 * result file records the real wall time.
 *
 * Training images/s of one process (one core), se-resnet18 family:
 * - 64 px: measured 10.3-11.8 img/s at batch 8 and 13.9-16.1 at batch 32; fitted per-step
 *   cost a + b x batch gives about 7 (batch 4) and 13 (batch 16), taken conservatively;
 * - 224 px: measured 1.36 img/s at batch 8; batch 32 does not fit wasm's 4 GB.
 * Other networks scale by their multiply-adds per image (fedxray models, counted per layer):
 * at 64 px se-resnet18 0.142 GMAC, alexnet 0.222, vgg16 1.251; at 224 px 1.735, 0.752, 15.4.
 * AlexNet and VGG-16 are large dense convolutions without GroupNorm/SE's many small kernels,
 * so they run nearer the kernels' 10-15 GMAC/s than ResNet's 5.5: 10 and 2.2 img/s at 64 px
 * (measured 9.7 and 2.2 at batch 16 on one thread, bench/data-parallel.ts, 2026-11-27).
 * A federation trains its hospitals on `workers` threads, each at 90% of one core's rate
 * (measured 17.6 img/s in all for 3 hospitals on 2 workers, docs/benchmarks.md); --jobs 2
 * runs two experiments at once, each at 90%.
 */
import type { ArchitectureName } from '../../shared/model/architectures.ts';
import { experimentThreads, type Experiment } from './experiments.ts';

const RESNET_TRAIN_64: Record<number, number> = { 4: 7, 8: 10, 16: 13, 32: 14 };
const RESNET_TRAIN_224: Record<number, number> = { 4: 1.0, 8: 1.36, 16: 1.4 };
/** Relative training speed against se-resnet18 at the same size. */
const ARCH_SPEED: Record<ArchitectureName, { 64: number; 224: number }> = {
  'se-resnet18-gn': { 64: 1, 224: 1 },
  'se-resnet18-bn': { 64: 1, 224: 1 },
  resnet18: { 64: 1, 224: 1 },
  alexnet: { 64: 10 / 13, 224: 2 },
  vgg16: { 64: 2.2 / 13, 224: 0.15 },
};
/** Inference img/s (validation scoring), se-resnet18: 47-75 at 64 px, 5.9 at 224 px. */
const RESNET_INFER: Record<64 | 224, number> = { 64: 50, 224: 5.9 };
const CONTENTION = 0.9;
/**
 * Speed-up of data-parallel training on 2 threads of this machine, measured at 64 px, batch 16
 * (bench/data-parallel.ts, docs/benchmarks.md); more threads: extrapolated linearly (rough).
 * Large dense layers (AlexNet) pay most for copying weights and gradients between threads.
 */
const DATA_PARALLEL_SPEEDUP_2: Partial<Record<ArchitectureName, number>> = {
  'se-resnet18-gn': 1.38,
  alexnet: 1.21,
  vgg16: 1.75,
};

function dataParallelSpeedup(architecture: ArchitectureName, threads: number): number {
  const two = DATA_PARALLEL_SPEEDUP_2[architecture] ?? 1.3;
  return 1 + (two - 1) * (threads - 1);
}

function interpolate(table: Record<number, number>, batch: number): number | undefined {
  const keys = Object.keys(table)
    .map(Number)
    .sort((a, b) => a - b);
  if (batch in table) return table[batch];
  if (batch > keys[keys.length - 1]) return undefined;
  const lo = [...keys].reverse().find((k) => k < batch) ?? keys[0];
  const hi = keys.find((k) => k > batch) ?? keys[keys.length - 1];
  if (lo === hi) return table[lo];
  return table[lo] + ((table[hi] - table[lo]) * (batch - lo)) / (hi - lo);
}

/** Training and inference images/s on one core, or undefined where nothing was measured. */
export function wasmRates(
  architecture: ArchitectureName,
  inputSize: number,
  batch: number,
): { train: number; infer: number } | undefined {
  const size = inputSize === 64 ? 64 : inputSize === 224 ? 224 : undefined;
  if (size === undefined) return undefined;
  const base = interpolate(size === 64 ? RESNET_TRAIN_64 : RESNET_TRAIN_224, batch);
  if (base === undefined) return undefined;
  const speed = ARCH_SPEED[architecture][size];
  return { train: base * speed, infer: RESNET_INFER[size] * speed };
}

export interface EstimateOptions {
  /** Threads of a federation (hospitals at once). */
  workers: number;
  /** Experiments at once. */
  jobs: number;
  /** Data-parallel threads of a centralised experiment without BatchNorm (default 1). */
  threads?: number;
}

/** Slots (cores) one experiment takes in a schedule of `jobs` at once. */
export function threadsOf(experiment: Experiment, options: EstimateOptions): number {
  const wanted =
    experiment.spec.kind === 'federated'
      ? options.workers
      : experimentThreads(experiment.spec, options.threads ?? 1);
  return Math.max(1, Math.min(wanted, Math.max(1, options.jobs)));
}

export interface DataSize {
  train: number;
  val: number;
}

/** The Kermany training split with the 10% validation split carved out (docs/benchmarks.md). */
export const KERMANY_TRAIN: DataSize = { train: 4694, val: 522 };

/** Images trained on (all epochs, all hospitals): a hardware-independent measure of cost. */
export function trainingImages(experiment: Experiment, data: DataSize): number {
  const s = experiment.spec;
  if (s.kind === 'federated' && s.federation)
    return s.federation.rounds * s.settings.epochs * data.train;
  if (s.kind === 'local-only' && s.hospital)
    return (s.settings.epochs * data.train) / s.hospital.clients;
  return s.settings.epochs * data.train;
}

/** Estimated wall seconds of one experiment on `cores` cores of a 2-core wasm machine. */
export function estimateSeconds(
  experiment: Experiment,
  data: DataSize,
  options: EstimateOptions,
): number | undefined {
  const s = experiment.spec;
  const rates = wasmRates(s.architecture, s.preprocessing.inputSize, s.settings.batchSize);
  if (!rates) return undefined;
  const share = options.jobs > 1 ? CONTENTION : 1;
  const validate = data.val / (rates.infer * share);
  if (s.kind === 'federated' && s.federation) {
    const f = s.federation;
    const workers = Math.max(1, Math.min(options.workers, f.clients));
    const perHospital = (data.train / f.clients) * s.settings.epochs;
    const waves = Math.ceil(f.clients / workers);
    const perRound = (waves * perHospital) / (rates.train * (workers > 1 ? CONTENTION : share));
    return f.rounds * (perRound + validate) + validate + 10;
  }
  const images =
    s.kind === 'local-only' && s.hospital ? data.train / s.hospital.clients : data.train;
  const epochs = s.settings.epochs;
  const threads = experimentThreads(s, options.threads ?? 1);
  const train =
    threads > 1 ? rates.train * dataParallelSpeedup(s.architecture, threads) : rates.train * share;
  return epochs * (images / train + validate) + validate + 5;
}

/**
 * The order run.ts runs experiments in: the plan's priority order with one job; with more,
 * federations first (they take several slots), then the longest first, so that no long run is
 * left alone at the end.
 */
export function scheduleOrder(
  experiments: readonly Experiment[],
  data: DataSize,
  options: EstimateOptions,
): Experiment[] {
  if (options.jobs <= 1) return [...experiments];
  const seconds = (e: Experiment): number => estimateSeconds(e, data, options) ?? 0;
  return [...experiments].sort(
    (a, b) =>
      Number(b.spec.kind === 'federated') - Number(a.spec.kind === 'federated') ||
      seconds(b) - seconds(a),
  );
}

/**
 * Wall seconds of running the experiments with `jobs` slots (a federation takes `workers`
 * slots) in run.ts's order; undefined when any estimate is unknown.
 */
export function estimateSchedule(
  experiments: Experiment[],
  data: DataSize,
  options: EstimateOptions,
): number | undefined {
  const slots = new Array<number>(Math.max(1, options.jobs)).fill(0);
  for (const e of scheduleOrder(experiments, data, options)) {
    const seconds = estimateSeconds(e, data, options);
    if (seconds === undefined) return undefined;
    const need = Math.min(threadsOf(e, options), slots.length);
    slots.sort((a, b) => a - b);
    const start = slots[need - 1];
    for (let i = 0; i < need; i++) slots[i] = start + seconds;
  }
  return Math.max(...slots);
}
