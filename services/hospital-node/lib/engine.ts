import pLimit from 'p-limit';
import { ImageCache } from '../../../shared/data/index.ts';
import {
  computeMetrics,
  pointEstimates,
  scoreHistogram,
  temperatureCurve,
  type ScoreHistogram,
} from '../../../shared/metrics/index.ts';
import { usesBatchNorm } from '../../../shared/model/architectures.ts';
import { setModelWeights } from '../../../shared/model/model-weights.ts';
import { getBackendInfo } from '../../../shared/tf/backend.ts';
import { GradientPeers } from '../../../shared/training/data-parallel.ts';
import { HISTOGRAM_BINS } from '../../../shared/protocol/evaluation.ts';
import type { tf } from '../../../shared/tf/tf.ts';
import {
  trainLocal,
  type LocalTrainResult,
  type TrainProgress,
} from '../../../shared/training/local-train.ts';
import { predictRecords } from '../../../shared/training/predict.ts';
import type { Preprocessing } from '../../../shared/training/preprocessing.ts';
import type { TrainSettings } from '../../../shared/training/settings.ts';
import type { NamedWeights } from '../../../shared/weights/index.ts';
import type { Evaluation } from '../schemas/evaluate.ts';
import { PublicError } from './errors.ts';
import type { LocalData } from './local-data.ts';
import { ModelCache, type ModelSpec } from './model-cache.ts';

export interface LocalTrainRequest {
  spec: ModelSpec;
  weights: readonly NamedWeights[];
  settings: TrainSettings;
  preprocessing: Preprocessing;
  schedule: { startEpoch: number; totalEpochs: number };
  signal: AbortSignal;
  onProgress?: (p: TrainProgress) => void;
}

export interface LocalEngineOptions {
  /** Data-parallel threads for training (TRAIN_THREADS); BatchNorm models use one. */
  trainThreads?: number;
}

/**
 * All model work on the local images: training on the train split, scoring the validation
 * split. One task at a time (they share the cached models and the CPU).
 */
export class LocalEngine {
  private readonly models = new ModelCache();
  private readonly images = new ImageCache();
  /** One at a time, in arrival order. */
  private readonly lock = pLimit(1);
  private readonly trainThreads: number;
  /** Worker threads for the last model trained data-parallel (its replicas stay built). */
  private peers?: { key: string; peers: GradientPeers };

  constructor(
    readonly data: LocalData,
    options: LocalEngineOptions = {},
  ) {
    this.trainThreads = Math.max(1, options.trainThreads ?? 1);
  }

  /** Threads a model of this architecture trains on. */
  threadsFor(spec: ModelSpec): number {
    return usesBatchNorm(spec.architecture) ? 1 : this.trainThreads;
  }

  train(request: LocalTrainRequest): Promise<LocalTrainResult> {
    return this.lock(async () => {
      if (request.signal.aborted) throw request.signal.reason;
      const model = this.models.get(request.spec);
      loadWeights(model, request.weights);
      return trainLocal(model, this.data.train, request.settings, {
        preprocessing: request.preprocessing,
        schedule: request.schedule,
        cache: this.images,
        signal: request.signal,
        onProgress: request.onProgress,
        peers: await this.peersFor(request.spec),
      });
    });
  }

  private async peersFor(spec: ModelSpec): Promise<GradientPeers | undefined> {
    const threads = this.threadsFor(spec);
    if (threads <= 1) return undefined;
    const key = `${spec.architecture}|${spec.inputSize}|${spec.width}|${threads}`;
    // Reused while alive; a worker that died (crash, out of memory) fails its job and the
    // next job starts new ones.
    if (this.peers?.key === key && this.peers.peers.alive) return this.peers.peers;
    await this.peers?.peers.close();
    this.peers = undefined;
    const peers = await GradientPeers.forThreads(
      { ...spec, backend: getBackendInfo()?.name },
      threads,
    );
    if (peers) this.peers = { key, peers };
    return peers;
  }

  async evaluate(
    spec: ModelSpec,
    weights: readonly NamedWeights[],
    preprocessing: Preprocessing,
    threshold: number,
  ): Promise<Evaluation & { histogram: ScoreHistogram }> {
    if (this.data.validation.length === 0) {
      throw new PublicError(
        'no-validation-data',
        'this node has no validation split (VAL_FRACTION)',
      );
    }
    return this.lock(async () => {
      const model = this.models.get(spec);
      loadWeights(model, weights);
      const predictions = await predictRecords(model, this.data.validation, preprocessing, {
        cache: this.images,
      });
      // Only point values are answered, so no bootstrap intervals.
      const report = computeMetrics(predictions.labels, predictions.probabilities, {
        threshold,
        bootstrapSamples: 0,
      });
      return {
        n: report.n,
        threshold,
        loss: predictions.loss,
        ...pointEstimates(report),
        confusion: report.confusion,
        // Counts per score bin, so the aggregator can choose the threshold on all hospitals.
        histogram: scoreHistogram(predictions.labels, predictions.probabilities, HISTOGRAM_BINS),
        // NLL and reliability sums per temperature, so it can fit calibrated probabilities.
        temperature: temperatureCurve(predictions.labels, predictions.probabilities),
      };
    });
  }

  /** Frees the models once the task in progress, if any, has finished. */
  dispose(): Promise<void> {
    return this.lock(async () => {
      this.models.dispose();
      this.images.clear();
      await this.peers?.peers.close();
      this.peers = undefined;
    });
  }
}

function loadWeights(model: tf.LayersModel, weights: readonly NamedWeights[]): void {
  try {
    setModelWeights(model, weights);
  } catch (error) {
    throw new PublicError('weights-incompatible', (error as Error).message);
  }
}
