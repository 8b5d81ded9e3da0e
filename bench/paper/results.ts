/** The result files of the paper suite: `<results>/<id>.json`, written atomically. */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import type { EvaluationReport } from '../../shared/metrics/index.ts';
import type { BackendInfo } from '../../shared/tf/backend.ts';
import type { CalibrationInfo } from '../../shared/federated/calibration.ts';
import type { FederationClassWeights } from '../../shared/federated/simulation.ts';
import type { ExperimentSpec, GroupName } from './experiments.ts';
import type { ProfileName } from './profiles.ts';

export const RESULT_FORMAT = 'fedxray-paper-result';
export const RESULT_VERSION = 1;

/** One epoch (centralised, local-only) or round (federated) of training. */
export interface ResultHistoryPoint {
  /** Epoch or round number, from 1. */
  step: number;
  /** Epochs of local training behind this point (round x E for federated runs). */
  epochs: number;
  trainLoss: number;
  trainAccuracy: number;
  /** Validation loss, accuracy at 0.5 and AUC after this step. */
  valLoss?: number;
  valAccuracy?: number;
  valAuc?: number;
  /** Wall seconds of this step (training and validation). */
  seconds: number;
}

export interface DataIdentity {
  /** --data as given. */
  dataDir: string;
  /** Images in --data, and used (after --limit). */
  images: number;
  usedImages: number;
  trainImages: number;
  trainPatients: number;
  valImages: number;
  valPatients: number;
  valPneumonia: number;
  /** sha256 of the sorted paths (relative to --data) with labels: the same split everywhere. */
  trainHash: string;
  valHash: string;
  description: string;
}

export interface MachineInfo {
  hostname: string;
  platform: string;
  arch: string;
  cpus: number;
  availableParallelism: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  gpu?: string;
  /** 1, 5 and 15 minute load averages at the start and the end of the run. */
  loadAverageStart: number[];
  loadAverageEnd: number[];
}

export interface PartitionInfo {
  clientId: string;
  images: number;
  pneumonia: number;
  patients: number;
  /** Calibrated federations: images of the share held out for calibration (not trained on). */
  calibrationImages?: number;
}

export interface ExperimentResult {
  format: typeof RESULT_FORMAT;
  version: typeof RESULT_VERSION;
  id: string;
  kind: ExperimentSpec['kind'];
  title: string;
  groups: GroupName[];
  profile: ProfileName;
  dryRun: boolean;
  spec: ExperimentSpec;
  data: DataIdentity;
  /** Scored on the validation split with the chosen threshold: value and 95% interval each. */
  metrics: EvaluationReport;
  valLoss: number;
  threshold: { threshold: number; rule: string; description: string };
  /** Calibrated federations: how the threshold was chosen on the hospitals' held-out splits. */
  calibration?: CalibrationInfo;
  /** Calibrated federations: the same model on the validation split at the fixed 0.5. */
  metricsAtDefault?: EvaluationReport;
  /** Federations with spec.classWeights 'federation': the weights used and their counts. */
  classWeights?: FederationClassWeights;
  stepLabel: 'epoch' | 'round';
  history: ResultHistoryPoint[];
  /** Federated: every hospital's share; local-only: the one trained on. */
  partitions?: PartitionInfo[];
  /** Federated: per round, the hospitals' local loss/accuracy/seconds. */
  rounds?: {
    round: number;
    clients: {
      clientId: string;
      numSamples: number;
      loss: number;
      accuracy: number;
      seconds: number;
    }[];
  }[];
  parameters: number;
  /** Seconds: the whole experiment (set-up, training, validation, scoring), and training steps. */
  wallSeconds: number;
  trainSeconds: number;
  /** Images trained on per second of training wall time (all hospitals together). */
  trainImagesPerSecond: number;
  backend: BackendInfo;
  /** Threads it trained on: hospitals in parallel (federated) or data-parallel (--threads). */
  workers: number;
  /** Experiments running at once on this machine (--jobs). */
  jobs: number;
  machine: MachineInfo;
  software: { node: string; commit?: string };
  startedAt: string;
  finishedAt: string;
}

export function resultPath(resultsDir: string, id: string): string {
  return join(resultsDir, ...id.split('/')) + '.json';
}

/** Writes JSON to a temporary file next to the target, then renames it into place. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, JSON.stringify(value, null, 2) + '\n');
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/** Same for text and binary files (reports, PNGs). */
export async function writeFileAtomic(path: string, data: string | Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

export function isExperimentResult(value: unknown): value is ExperimentResult {
  const v = value as Partial<ExperimentResult> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    v.format === RESULT_FORMAT &&
    v.version === RESULT_VERSION &&
    typeof v.id === 'string' &&
    typeof v.metrics === 'object'
  );
}

/** The stored result of an experiment, or undefined when there is none (or it is unreadable). */
export async function readResult(
  resultsDir: string,
  id: string,
): Promise<ExperimentResult | undefined> {
  let text: string;
  try {
    text = await readFile(resultPath(resultsDir, id), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return isExperimentResult(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Every result file under resultsDir (any depth), sorted by id. */
export async function loadResults(resultsDir: string): Promise<ExperimentResult[]> {
  let entries: string[];
  try {
    entries = (await readdir(resultsDir, { recursive: true })) as string[];
  } catch {
    return [];
  }
  const results: ExperimentResult[] = [];
  for (const entry of entries.sort()) {
    if (!entry.endsWith('.json')) continue;
    try {
      const parsed: unknown = JSON.parse(await readFile(join(resultsDir, entry), 'utf8'));
      if (isExperimentResult(parsed)) {
        const expected = entry
          .split(sep)
          .join('/')
          .replace(/\.json$/, '');
        if (parsed.id === expected) results.push(parsed);
      }
    } catch {
      // not a result file
    }
  }
  return results.sort((a, b) => a.id.localeCompare(b.id));
}

/** Stable JSON: object keys sorted, so equal specs compare equal whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) =>
            a < b ? -1 : a > b ? 1 : 0,
          ),
        )
      : v,
  );
}

/**
 * Why a stored result does not answer the current experiment, or undefined when it does:
 * a different spec (settings changed) or different data (another --data, split or --limit).
 */
/** The part of a spec that decides the result: everything but its display title. */
export function specKey(spec: ExperimentSpec): string {
  return canonicalJson({ ...spec, title: undefined });
}

export function staleReason(
  stored: ExperimentResult,
  spec: ExperimentSpec,
  data?: Pick<DataIdentity, 'trainHash' | 'valHash'>,
): string | undefined {
  if (specKey(stored.spec) !== specKey(spec)) {
    const a = stored.spec as unknown as Record<string, unknown>;
    const b = spec as unknown as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter(
      (k) => k !== 'title' && canonicalJson(a[k]) !== canonicalJson(b[k]),
    );
    return `its settings differ (${keys.join(', ')})`;
  }
  if (data && (stored.data.trainHash !== data.trainHash || stored.data.valHash !== data.valHash))
    return 'it was trained or scored on other data';
  return undefined;
}
