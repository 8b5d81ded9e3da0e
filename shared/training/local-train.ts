import {
  AUGMENT_POLICIES,
  streamBatches,
  classWeights,
  type ImageCache,
  type XrayRecord,
} from '../data/index.ts';
import { mixSeeds, withDropoutSeed } from '../model/dropout.ts';
import { getModelWeights, type WeightArray } from '../model/model-weights.ts';
import { tf } from '../tf/tf.ts';
import type { GradientPeers } from './data-parallel.ts';
import { shardGradients, splitBatch, type BatchShard } from './gradients.ts';
import { learningRateAt } from './lr-schedule.ts';
import { weightedCrossEntropy } from './loss.ts';
import { createOptimizer, disposeOptimizer, setLearningRate } from './optimizer.ts';
import { validateTrainSettings, type TrainSettings } from './settings.ts';
import type { Preprocessing } from './preprocessing.ts';

export interface TrainProgress {
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  images: number;
  loss: number;
  accuracy: number;
  learningRate: number;
  imagesPerSecond: number;
}

export interface EpochSummary {
  epoch: number;
  loss: number;
  accuracy: number;
  learningRate: number;
  images: number;
  seconds: number;
}

export interface LocalTrainResult {
  weights: WeightArray[];
  numSamples: number;
  epochs: EpochSummary[];
  loss: number;
  accuracy: number;
  seconds: number;
}

export interface LocalTrainOptions {
  preprocessing: Preprocessing;
  /**
   * Where this training sits in a longer schedule (federated rounds): the epoch offset and
   * total length used by the learning-rate schedule. Defaults to this call alone.
   */
  schedule?: { startEpoch: number; totalEpochs: number };
  cache?: ImageCache;
  onProgress?: (p: TrainProgress) => void;
  signal?: AbortSignal;
  /**
   * Data-parallel training: each batch is split between this thread and these workers, and
   * their gradients are summed into one update (the same update up to float rounding). Not
   * for models with BatchNorm, whose statistics would then come from each shard alone.
   */
  peers?: GradientPeers;
}

/** Names of weights that get decoupled weight decay: conv and dense kernels, not norms or biases. */
function isDecayed(variable: tf.LayerVariable): boolean {
  return variable.originalName.endsWith('/kernel');
}

/**
 * Trains `model` in place on `records` for settings.epochs epochs and returns the new weights.
 * Tensors are created and freed per step, so tf.memory().numTensors is the same before and after.
 */
export async function trainLocal(
  model: tf.LayersModel,
  records: readonly XrayRecord[],
  settings: TrainSettings,
  options: LocalTrainOptions,
): Promise<LocalTrainResult> {
  validateTrainSettings(settings);
  if (records.length === 0) throw new Error('Cannot train on an empty dataset');
  const started = performance.now();
  const weights: [number, number] =
    settings.classBalancing === 'weights'
      ? (settings.classWeights ?? classWeights(records))
      : [1, 1];
  const startEpoch = options.schedule?.startEpoch ?? 0;
  const scheduleSpec = {
    kind: settings.schedule,
    baseRate: settings.learningRate,
    totalEpochs: options.schedule?.totalEpochs ?? settings.epochs,
    warmupEpochs: settings.warmupEpochs,
  };
  const optimizer = createOptimizer(settings.optimizer, settings.learningRate, settings.momentum);
  const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const decayed = model.trainableWeights.filter(isDecayed);
  const fullSteps = Math.ceil(records.length / settings.batchSize);
  const stepsPerEpoch = Math.min(fullSteps, settings.maxStepsPerEpoch ?? fullSteps);
  const epochs: EpochSummary[] = [];
  const peers = options.peers;
  if (peers) {
    peers.assertMatches(model);
    if (model.layers.some((layer) => layer.getClassName() === 'BatchNormalization'))
      throw new Error(
        `${model.name} has BatchNorm: data-parallel training would normalise each shard of a batch on its own; train it on one thread`,
      );
  }

  // FedProx: the anchor w0 of the proximal term is the weights training starts from. With mu
  // absent or 0 nothing is copied and the steps run exactly as plain local training.
  const mu = settings.proximalMu ?? 0;
  const proximal: Proximal | undefined =
    mu > 0 ? { mu, anchors: trainable.map((v) => tf.keep(v.clone())) } : undefined;

  try {
    for (let epoch = 0; epoch < settings.epochs; epoch++) {
      const epochStarted = performance.now();
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      let step = 0;
      let learningRate = settings.learningRate;
      const batches = streamBatches(records, {
        batchSize: settings.batchSize,
        size: options.preprocessing.inputSize,
        normalization: options.preprocessing.normalization,
        equalize: options.preprocessing.equalize,
        shuffle: true,
        seed: settings.seed * 1009 + startEpoch + epoch,
        augment: settings.augment ? AUGMENT_POLICIES[settings.augmentPolicy ?? 'light'] : false,
        cache: options.cache,
      });
      for await (const batch of batches) {
        // A warm image cache makes the whole loop synchronous: yield once a step, so that a
        // node keeps answering /health and job-status checks while it trains.
        await yieldToEventLoop();
        if (options.signal?.aborted) throw new Error('Training was cancelled');
        learningRate = learningRateAt(scheduleSpec, startEpoch + epoch + step / stepsPerEpoch);
        setLearningRate(optimizer, learningRate);
        // Every step (and shard) draws new dropout masks, reproducibly.
        const dropoutSeed = mixSeeds(settings.seed, startEpoch + epoch, step);
        const { loss, hits } = peers
          ? await parallelStep(
              model,
              optimizer,
              trainable,
              batch,
              peers,
              weights,
              settings.labelSmoothing,
              dropoutSeed,
              proximal,
            )
          : trainStep(
              model,
              optimizer,
              trainable,
              batch,
              weights,
              settings.labelSmoothing,
              dropoutSeed,
              proximal,
            );
        if (settings.weightDecay > 0)
          applyWeightDecay(decayed, learningRate * settings.weightDecay);
        if (!Number.isFinite(loss))
          throw new Error(
            `Training diverged: loss is ${loss} at epoch ${epoch + 1}, step ${step + 1}`,
          );
        lossSum += loss * batch.count;
        correct += hits;
        seen += batch.count;
        step++;
        options.onProgress?.({
          epoch: epoch + 1,
          epochs: settings.epochs,
          step,
          stepsPerEpoch,
          images: seen,
          loss: lossSum / seen,
          accuracy: correct / seen,
          learningRate,
          imagesPerSecond: seen / ((performance.now() - epochStarted) / 1000),
        });
        if (step >= stepsPerEpoch) {
          await batches.return(undefined);
          break;
        }
      }
      epochs.push({
        epoch: startEpoch + epoch + 1,
        loss: lossSum / seen,
        accuracy: correct / seen,
        learningRate,
        images: seen,
        seconds: (performance.now() - epochStarted) / 1000,
      });
    }
  } finally {
    disposeOptimizer(optimizer);
    if (proximal) for (const anchor of proximal.anchors) anchor.dispose();
  }
  const last = epochs[epochs.length - 1];
  return {
    weights: getModelWeights(model),
    numSamples: records.length,
    epochs,
    loss: last.loss,
    accuracy: last.accuracy,
    seconds: (performance.now() - started) / 1000,
  };
}

/** FedProx's proximal term (mu / 2)·||w − anchor||², one anchor per trainable variable. */
interface Proximal {
  mu: number;
  anchors: tf.Tensor[];
}

interface Batch {
  xs: Float32Array;
  labels: Int32Array;
  count: number;
}

function trainStep(
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  trainable: tf.Variable[],
  batch: Batch,
  classWeights: [number, number],
  labelSmoothing: number,
  dropoutSeed: number,
  proximal?: Proximal,
): { loss: number; hits: number } {
  const size = Math.round(Math.sqrt(batch.xs.length / batch.count));
  let hitsTensor: tf.Scalar | undefined;
  // With a proximal term, minimize sees data + proximal loss; the data loss alone is reported.
  let dataLossTensor: tf.Scalar | undefined;
  const lossTensor = tf.tidy(() => {
    const xs = tf.tensor4d(batch.xs, [batch.count, size, size, 1]);
    const labels = tf.tensor1d(batch.labels, 'int32');
    return optimizer.minimize(
      () => {
        const probabilities = withDropoutSeed(
          dropoutSeed,
          () => model.apply(xs, { training: true }) as tf.Tensor2D,
        );
        hitsTensor = tf.keep(
          tf.sum(tf.cast(tf.equal(tf.argMax(probabilities, 1), labels), 'float32')) as tf.Scalar,
        );
        const dataLoss = weightedCrossEntropy(probabilities, labels, classWeights, labelSmoothing);
        if (!proximal) return dataLoss;
        dataLossTensor = tf.keep(dataLoss);
        return tf.add(dataLoss, proximalLoss(trainable, proximal)) as tf.Scalar;
      },
      true,
      trainable,
    ) as tf.Scalar;
  });
  const loss = (dataLossTensor ?? lossTensor).dataSync()[0];
  const hits = hitsTensor ? hitsTensor.dataSync()[0] : 0;
  lossTensor.dispose();
  hitsTensor?.dispose();
  dataLossTensor?.dispose();
  return { loss, hits };
}

/** (mu / 2)·Σ ||w − anchor||² over the trainable variables; its gradient is mu·(w − anchor). */
function proximalLoss(trainable: tf.Variable[], proximal: Proximal): tf.Scalar {
  const squares = trainable.map((v, i) => tf.sum(tf.square(tf.sub(v, proximal.anchors[i]))));
  return tf.mul(tf.addN(squares), proximal.mu / 2);
}

/**
 * One data-parallel step: the peers compute their shards' gradients while this thread computes
 * the first shard's; the sum is applied here, and the peers get the new weights next step.
 */
async function parallelStep(
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  trainable: tf.Variable[],
  batch: BatchShard,
  peers: GradientPeers,
  classWeights: [number, number],
  labelSmoothing: number,
  dropoutSeed: number,
  proximal?: Proximal,
): Promise<{ loss: number; hits: number }> {
  const [own, ...rest] = splitBatch(batch, peers.size + 1);
  const scales = rest.map((shard) => shard.count / batch.count);
  const seeds = rest.map((_, i) => mixSeeds(dropoutSeed, i + 1));
  const current = model.weights.map((v) => new Float32Array(v.read().dataSync()));
  const remote = peers.compute(current, rest, scales, seeds, classWeights, labelSmoothing);
  let local: ReturnType<typeof shardGradients>;
  try {
    local = shardGradients(
      model,
      trainable,
      own,
      classWeights,
      labelSmoothing,
      own.count / batch.count,
      mixSeeds(dropoutSeed, 0),
    );
  } catch (error) {
    await remote.catch(() => undefined);
    throw error;
  }
  try {
    const others = await remote;
    tf.tidy(() => {
      const summed: tf.NamedTensorMap = {};
      trainable.forEach((variable, i) => {
        let grad: tf.Tensor = local.grads[i];
        for (const peer of others) grad = tf.add(grad, tf.tensor(peer.grads[i], grad.shape));
        // FedProx: the proximal term does not depend on the data, so it is added here once.
        if (proximal)
          grad = tf.add(grad, tf.mul(tf.sub(variable, proximal.anchors[i]), proximal.mu));
        summed[variable.name] = grad;
      });
      optimizer.applyGradients(summed);
    });
    return {
      loss: others.reduce((sum, p) => sum + p.loss, local.loss),
      hits: others.reduce((sum, p) => sum + p.hits, local.hits),
    };
  } finally {
    for (const grad of local.grads) grad.dispose();
  }
}

function applyWeightDecay(variables: tf.LayerVariable[], factor: number): void {
  tf.tidy(() => {
    for (const v of variables) v.write(tf.mul(v.read(), 1 - factor));
  });
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
