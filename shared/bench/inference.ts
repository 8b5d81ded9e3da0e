/**
 * Inference speed with the runtime the inference API would use: onnxruntime-node (the
 * network exported to ONNX in memory, a CPU session of `threads` threads) when it loads and
 * is not refused, else tfjs. Synthetic batches; one warm-up batch excluded.
 */
import { buildModel } from '../model/architectures.ts';
import { exportNetworksToOnnx } from '../onnx/export.ts';
import { createOnnxScorer, loadOnnxRuntime } from '../onnx/runtime.ts';
import { tf } from '../tf/tf.ts';
import { predictBatch } from '../training/predict.ts';
import { createRng } from '../util/random.ts';

export type RuntimeChoice = 'auto' | 'onnxruntime' | 'tfjs';

export interface InferenceOptions {
  architecture: string;
  inputSize: number;
  batchSize: number;
  steps: number;
  width?: number;
  runtime: RuntimeChoice;
  threads: number;
}

export interface InferenceResult {
  /** 'onnxruntime' or 'tfjs-<backend>', as the inference API's /info names it. */
  inferRuntime: string;
  /** Why onnxruntime was not used, when it was not. */
  inferRuntimeReason: string | null;
  onnxThreads: number | null;
  inferImagesPerSecond: number;
  inferMsPerImage: number;
}

export async function measureInference(options: InferenceOptions): Promise<InferenceResult> {
  const { inputSize: size, batchSize, steps } = options;
  const model = buildModel(options.architecture, { inputSize: size, width: options.width });
  const rng = createRng(2);
  const pixels = Float32Array.from({ length: batchSize * size * size }, () => rng.normal());
  try {
    let reason: string | null = options.runtime === 'tfjs' ? '--runtime tfjs' : null;
    if (options.runtime !== 'tfjs') {
      const ort = await loadOnnxRuntime();
      if (ort.ok) {
        const bytes = exportNetworksToOnnx([model], {
          modelId: 'bench',
          sha256: '0'.repeat(64),
          architecture: options.architecture,
          width: options.width ?? 64,
          preprocessing: { inputSize: size, normalization: 'per-image', equalize: false },
          threshold: { threshold: 0.5, rule: 'fixed:0.5' },
        });
        const scorer = await createOnnxScorer(ort.ort, bytes, options.threads);
        try {
          await scorer.score(pixels, batchSize, size);
          const t = performance.now();
          for (let i = 0; i < steps; i++) await scorer.score(pixels, batchSize, size);
          return result(
            'onnxruntime',
            null,
            options.threads,
            performance.now() - t,
            steps * batchSize,
          );
        } finally {
          await scorer.release();
        }
      }
      if (options.runtime === 'onnxruntime') throw new Error(ort.reason);
      reason = ort.reason;
    }
    predictBatch(model, pixels, batchSize, size);
    const t = performance.now();
    for (let i = 0; i < steps; i++) predictBatch(model, pixels, batchSize, size);
    return result(
      `tfjs-${tf.getBackend()}`,
      reason,
      null,
      performance.now() - t,
      steps * batchSize,
    );
  } finally {
    model.dispose();
  }
}

function result(
  inferRuntime: string,
  inferRuntimeReason: string | null,
  onnxThreads: number | null,
  ms: number,
  images: number,
): InferenceResult {
  return {
    inferRuntime,
    inferRuntimeReason,
    onnxThreads,
    inferImagesPerSecond: (images * 1000) / ms,
    inferMsPerImage: ms / images,
  };
}
