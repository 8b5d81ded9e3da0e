/**
 * fedxray accept's measurement: a site's labelled images scored by its inference API, the
 * metrics at the API's threshold and the threshold that reaches a target on those images.
 * Each image is read and sent to /diagnose; nothing of it is kept but its probability.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { XrayRecord } from '../data/index.ts';
import {
  computeMetrics,
  probabilisticScores,
  type EvaluationReport,
  type ProbabilisticScores,
} from '../metrics/index.ts';
import { thresholdForTarget, type OperatingTarget } from '../metrics/target-threshold.ts';
import { mapWithConcurrency } from '../util/concurrency.ts';
import { ApiError, type Diagnosis, type InferenceApiClient } from '../client/index.ts';

/** The bootstrap seed of `fedxray evaluate`, so both give the same intervals on the same scores. */
const SEED = 42;

export interface AcceptanceOptions {
  client: InferenceApiClient;
  records: readonly XrayRecord[];
  concurrency: number;
  bootstrapSamples: number;
  target?: OperatingTarget;
  onProgress?: (done: number) => void;
}

export interface FailedImage {
  path: string;
  /** HTTP status; 0 when no answer came or the file could not be read. */
  status: number;
  error: string;
}

/** The achieved sensitivity or specificity: `successes` of `trials` images of the class. */
export interface Achieved {
  value: number;
  successes: number;
  trials: number;
  /** Wilson score 95% interval. */
  ci95: [number, number];
}

export type TargetReport = OperatingTarget &
  (
    | {
        reached: true;
        threshold: number;
        description: string;
        achieved: Achieved;
        metrics: EvaluationReport;
        /** What the interval means for the site, in words. */
        note: string;
      }
    | { reached: false; reason: string }
  );

export interface AcceptanceReport {
  /** Images scored (those that failed are not counted). */
  n: number;
  images: { NORMAL: number; PNEUMONIA: number };
  failed: FailedImage[];
  model: { id: string; sha256: string };
  current: {
    threshold: number;
    /** 'site' when the API labels with an operating point set for this model. */
    thresholdSource: 'model' | 'site' | null;
    metrics: EvaluationReport;
  };
  /** Threshold-free scores of the probabilities (log-loss, Brier, ECE). */
  scores: ProbabilisticScores;
  target: TargetReport | null;
}

type Outcome = { ok: true; answer: Diagnosis } | { ok: false; failure: FailedImage };

export async function runAcceptance(options: AcceptanceOptions): Promise<AcceptanceReport> {
  const { client, records } = options;
  const before = await client.currentModel();
  let done = 0;
  const outcomes = await mapWithConcurrency(
    records,
    options.concurrency,
    async (record): Promise<Outcome> => {
      try {
        const bytes = await readFile(record.path);
        return { ok: true, answer: await client.diagnose(bytes, basename(record.path)) };
      } catch (error) {
        const status = error instanceof ApiError ? error.status : 0;
        return {
          ok: false,
          failure: { path: record.path, status, error: (error as Error).message },
        };
      } finally {
        options.onProgress?.(++done);
      }
    },
  );
  const failed: FailedImage[] = [];
  const labels: number[] = [];
  const probabilities: number[] = [];
  const answers: Diagnosis[] = [];
  outcomes.forEach((outcome, i) => {
    if (!outcome.ok) {
      failed.push(outcome.failure);
      return;
    }
    labels.push(records[i].label);
    probabilities.push(outcome.answer.probability);
    answers.push(outcome.answer);
  });
  if (answers.length === 0) {
    throw new Error(`no image could be scored; the first failure: ${failed[0]?.error}`);
  }
  const { model, threshold } = oneModel(answers);
  const bootstrap = { bootstrapSamples: options.bootstrapSamples, seed: SEED };
  const positives = labels.filter((l) => l === 1).length;
  return {
    n: answers.length,
    images: { NORMAL: answers.length - positives, PNEUMONIA: positives },
    failed,
    model,
    current: {
      threshold,
      thresholdSource: before.sha256 === model.sha256 ? (before.thresholdSource ?? null) : null,
      metrics: computeMetrics(labels, probabilities, { threshold, ...bootstrap }),
    },
    scores: probabilisticScores(labels, probabilities, bootstrap),
    target: options.target ? targetReport(labels, probabilities, options.target, bootstrap) : null,
  };
}

/** Metrics mixing two models or two thresholds would describe neither. */
function oneModel(answers: readonly Diagnosis[]): {
  model: { id: string; sha256: string };
  threshold: number;
} {
  const [first] = answers;
  if (answers.some((a) => a.model.sha256 !== first.model.sha256)) {
    throw new Error('the API swapped its model during the run: run fedxray accept again');
  }
  if (answers.some((a) => a.threshold !== first.threshold)) {
    throw new Error("the API's threshold changed during the run: run fedxray accept again");
  }
  return { model: { id: first.model.id, sha256: first.model.sha256 }, threshold: first.threshold };
}

function targetReport(
  labels: number[],
  probabilities: number[],
  target: OperatingTarget,
  bootstrap: { bootstrapSamples: number; seed: number },
): TargetReport {
  const found = thresholdForTarget(labels, probabilities, target);
  if (!found.reached) return { ...target, reached: false, reason: found.reason };
  const metrics = computeMetrics(labels, probabilities, {
    threshold: found.threshold,
    ...bootstrap,
  });
  const { tp, fn, tn, fp } = metrics.confusion;
  const sensitivity = target.metric === 'sensitivity';
  const estimate = sensitivity ? metrics.recall : metrics.specificity;
  const achieved: Achieved = {
    value: estimate.value,
    successes: sensitivity ? tp : tn,
    trials: sensitivity ? tp + fn : tn + fp,
    ci95: estimate.ci95,
  };
  return {
    ...target,
    reached: true,
    threshold: found.threshold,
    description: found.description,
    achieved,
    metrics,
    note: targetNote(target, achieved),
  };
}

function targetNote(target: OperatingTarget, achieved: Achieved): string {
  const [lo, hi] = achieved.ci95.map((x) => x.toFixed(3));
  const images = target.metric === 'sensitivity' ? 'PNEUMONIA' : 'NORMAL';
  const note =
    `${target.metric} ${achieved.successes}/${achieved.trials} = ${achieved.value.toFixed(3)} on ` +
    `these ${images} images; its 95% Wilson interval is [${lo}, ${hi}], so on new images it ` +
    `may be as low as ${lo}.`;
  return achieved.ci95[1] - achieved.ci95[0] > 0.1
    ? `${note} With ${achieved.trials} ${images} images the interval is wide: more labelled images narrow it.`
    : note;
}
