import { buildModel } from '../model/architectures.ts';
import { tf } from '../tf/tf.ts';
import { weightedCrossEntropy } from '../training/loss.ts';
import { createOptimizer, disposeOptimizer } from '../training/optimizer.ts';
import { createRng } from '../util/random.ts';

export interface ThroughputOptions {
  architecture: string;
  inputSize: number;
  batchSize: number;
  steps: number;
  width?: number;
  optimizer?: 'adam' | 'sgd';
}

export interface ThroughputResult {
  architecture: string;
  inputSize: number;
  batchSize: number;
  steps: number;
  parameters: number;
  trainImagesPerSecond: number;
  trainMsPerImage: number;
  inferImagesPerSecond: number;
  inferMsPerImage: number;
  peakRssMB: number;
  tensorsBefore: number;
  tensorsAfter: number;
}

/**
 * Training and inference speed on synthetic batches (speed does not depend on pixel values).
 * One warm-up step each is excluded from the timing; peak RSS is the process maximum.
 */
export function measureThroughput(options: ThroughputOptions): ThroughputResult {
  const { inputSize: size, batchSize, steps } = options;
  const model = buildModel(options.architecture, { inputSize: size, width: options.width });
  const optimizer = createOptimizer(options.optimizer ?? 'adam', 1e-3, 0.9);
  const rng = createRng(1);
  const pixels = Float32Array.from({ length: batchSize * size * size }, () => rng.normal());
  const labels = Int32Array.from({ length: batchSize }, (_, i) => i % 2);
  const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const step = (): void => {
    tf.tidy(() => {
      const xs = tf.tensor4d(pixels, [batchSize, size, size, 1]);
      const ys = tf.tensor1d(labels, 'int32');
      const loss = optimizer.minimize(
        () =>
          weightedCrossEntropy(model.apply(xs, { training: true }) as tf.Tensor2D, ys, [1, 1], 0),
        true,
        trainable,
      );
      loss?.dataSync();
    });
  };
  const infer = (): void => {
    tf.tidy(() => {
      (model.predict(tf.tensor4d(pixels, [batchSize, size, size, 1])) as tf.Tensor).dataSync();
    });
  };
  try {
    step();
    const tensorsBefore = tf.memory().numTensors;
    let t = performance.now();
    for (let i = 0; i < steps; i++) step();
    const trainSeconds = (performance.now() - t) / 1000;
    const tensorsAfter = tf.memory().numTensors;
    infer();
    t = performance.now();
    for (let i = 0; i < steps; i++) infer();
    const inferSeconds = (performance.now() - t) / 1000;
    const images = steps * batchSize;
    return {
      architecture: options.architecture,
      inputSize: size,
      batchSize,
      steps,
      parameters: model.countParams(),
      trainImagesPerSecond: images / trainSeconds,
      trainMsPerImage: (trainSeconds * 1000) / images,
      inferImagesPerSecond: images / inferSeconds,
      inferMsPerImage: (inferSeconds * 1000) / images,
      peakRssMB: process.resourceUsage().maxRSS / 1024,
      tensorsBefore,
      tensorsAfter,
    };
  } finally {
    disposeOptimizer(optimizer);
    model.dispose();
  }
}
