/**
 * The corruption suite: a model scored on labelled images under every corruption and
 * severity, through the model's own decoding pipeline (the corrupted image is handed over as
 * a lossless PNG), summarised as mAUC-C and mSpec-C (docs/robust-protocol.md).
 */
import { decodeXray, type XrayRecord } from '../data/index.ts';
import { computeMetrics } from '../metrics/index.ts';
import type { tf } from '../tf/tf.ts';
import { toScorer, type BatchScorer } from '../training/predict.ts';
import type { Preprocessing } from '../training/preprocessing.ts';
import { mapWithConcurrency } from '../util/concurrency.ts';
import { createRng } from '../util/random.ts';
import {
  CORRUPTIONS,
  encodePng,
  readGray,
  type Corruption,
  type GrayImage,
} from './corruptions.ts';

export interface CorruptionScore {
  corruption: string;
  /** 1..3; 0 is the clean images. */
  severity: number;
  level: number;
  auc: number;
  specificity: number;
  recall: number;
  accuracy: number;
}

export interface CorruptionSuiteResult {
  n: number;
  threshold: number;
  clean: CorruptionScore;
  scores: CorruptionScore[];
  /** Mean AUC over every corruption and severity. */
  meanAuc: number;
  /** Mean specificity at the threshold over every corruption and severity. */
  meanSpecificity: number;
  meanRecall: number;
}

export interface CorruptionSuiteOptions {
  corruptions?: readonly Corruption[];
  batchSize?: number;
  seed?: number;
  onProgress?: (done: number, total: number) => void;
}

async function scoreImages(
  score: BatchScorer,
  images: readonly GrayImage[],
  labels: Int32Array,
  preprocessing: Preprocessing,
  threshold: number,
  transform: (image: GrayImage, index: number) => Promise<GrayImage> | GrayImage,
  batchSize: number,
): Promise<Omit<CorruptionScore, 'corruption' | 'severity' | 'level'>> {
  const size = preprocessing.inputSize;
  const probabilities = new Float32Array(images.length);
  for (let start = 0; start < images.length; start += batchSize) {
    const count = Math.min(batchSize, images.length - start);
    const xs = new Float32Array(count * size * size);
    await mapWithConcurrency(
      Array.from({ length: count }, (_, i) => start + i),
      4,
      async (index) => {
        const png = await encodePng(await transform(images[index], index));
        const pixels = await decodeXray(png, {
          size,
          normalization: preprocessing.normalization,
          equalize: preprocessing.equalize,
        });
        xs.set(pixels, (index - start) * size * size);
      },
    );
    probabilities.set(score(xs, count, size), start);
  }
  const report = computeMetrics(labels, probabilities, { threshold, bootstrapSamples: 0 });
  return {
    auc: report.auc.value,
    specificity: report.specificity.value,
    recall: report.recall.value,
    accuracy: report.accuracy.value,
  };
}

/** Scores `records` clean and under each corruption at its three severities. */
export async function runCorruptionSuite(
  model: tf.LayersModel | BatchScorer,
  records: readonly XrayRecord[],
  preprocessing: Preprocessing,
  threshold: number,
  options: CorruptionSuiteOptions = {},
): Promise<CorruptionSuiteResult> {
  if (records.length === 0) throw new RangeError('the corruption suite needs images');
  const corruptions = options.corruptions ?? CORRUPTIONS;
  const batchSize = options.batchSize ?? 32;
  const seed = options.seed ?? 1;
  const score = toScorer(model);
  const images = await mapWithConcurrency(records, 4, (r) => readGray(r.path));
  const labels = Int32Array.from(records, (r) => r.label);
  const total = 1 + corruptions.length * 3;
  let done = 0;
  const clean: CorruptionScore = {
    corruption: 'clean',
    severity: 0,
    level: 0,
    ...(await scoreImages(score, images, labels, preprocessing, threshold, (i) => i, batchSize)),
  };
  options.onProgress?.(++done, total);
  const scores: CorruptionScore[] = [];
  for (const [c, corruption] of corruptions.entries()) {
    for (const [s, level] of corruption.severities.entries()) {
      const transform = (image: GrayImage, index: number) =>
        corruption.apply(image, level, createRng(seed * 1_000_003 + c * 10_007 + s * 101 + index));
      const result = await scoreImages(
        score,
        images,
        labels,
        preprocessing,
        threshold,
        transform,
        batchSize,
      );
      scores.push({ corruption: corruption.name, severity: s + 1, level, ...result });
      options.onProgress?.(++done, total);
    }
  }
  const average = (key: 'auc' | 'specificity' | 'recall') =>
    scores.reduce((sum, x) => sum + x[key], 0) / scores.length;
  return {
    n: records.length,
    threshold,
    clean,
    scores,
    meanAuc: average('auc'),
    meanSpecificity: average('specificity'),
    meanRecall: average('recall'),
  };
}

/** A Markdown table: one row per corruption, AUC / specificity at each severity. */
export function formatCorruptionTable(result: CorruptionSuiteResult, digits = 3): string {
  const rows = new Map<string, CorruptionScore[]>();
  for (const s of result.scores) rows.set(s.corruption, [...(rows.get(s.corruption) ?? []), s]);
  const cell = (s: CorruptionScore) =>
    `${s.auc.toFixed(digits)} / ${s.specificity.toFixed(digits)}`;
  return [
    `| corruption | severity 1 | severity 2 | severity 3 |`,
    `|---|---:|---:|---:|`,
    `| clean | ${cell(result.clean)} | | |`,
    ...[...rows].map(([name, list]) => `| ${name} | ${list.map(cell).join(' | ')} |`),
    '',
    `AUC / specificity at threshold ${result.threshold}, n = ${result.n}; ` +
      `mAUC-C ${result.meanAuc.toFixed(4)}, mSpec-C ${result.meanSpecificity.toFixed(4)}, ` +
      `mRecall-C ${result.meanRecall.toFixed(4)}`,
  ].join('\n');
}
