import { buildModel, type ArchitectureName } from '../../../shared/model/architectures.ts';
import { setModelWeights } from '../../../shared/model/model-weights.ts';
import type { tf } from '../../../shared/tf/tf.ts';
import { predictBatch } from '../../../shared/training/predict.ts';
import type { NamedWeights } from '../../../shared/weights/index.ts';
import type { ModelInfo } from '../schemas/model.ts';

/** A network ready to predict, with what the API says about it. */
export interface LoadedModel {
  readonly model: tf.LayersModel;
  readonly info: ModelInfo;
  /** Frees the model's tensors; idempotent. */
  dispose(): void;
}

/**
 * The base width of a network from its weights: the first convolution of every fedxray
 * architecture (ResNet stem, AlexNet conv1, VGG block1_conv1) has `width` output channels.
 */
export function widthFromWeights(weights: readonly NamedWeights[]): number | undefined {
  const first = weights.find((w) => w.name.endsWith('/kernel') && w.shape.length === 4);
  return first?.shape[3];
}

/**
 * Builds the network, sets its weights and runs it once on a blank image, so a broken model
 * fails here (not on a request) and the first request pays no warm-up.
 */
export function instantiateModel(
  spec: { architecture: ArchitectureName; inputSize: number; width: number },
  weights: readonly NamedWeights[],
  info: ModelInfo,
): LoadedModel {
  const model = buildModel(spec.architecture, { inputSize: spec.inputSize, width: spec.width });
  try {
    setModelWeights(model, weights);
    const size = spec.inputSize;
    const [p] = predictBatch(model, new Float32Array(size * size), 1, size);
    if (!Number.isFinite(p)) throw new Error(`the model predicts ${p} on a blank image`);
  } catch (error) {
    model.dispose();
    throw error;
  }
  let disposed = false;
  return {
    model,
    info,
    dispose() {
      if (disposed) return;
      disposed = true;
      model.dispose();
    },
  };
}
