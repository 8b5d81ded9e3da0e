import { buildModel, type ArchitectureName } from '../../../shared/model/architectures.ts';
import { setModelWeights } from '../../../shared/model/model-weights.ts';
import { tf } from '../../../shared/tf/tf.ts';
import { ensembleScorer } from '../../../shared/model/ensemble.ts';
import {
  ensembleGradCam,
  gradCamExplainer,
  type GradCamExplainer,
  type GradCamMap,
} from '../../../shared/model/grad-cam.ts';
import { ttaScorer, type TtaPolicy } from '../../../shared/model/tta.ts';
import type { BatchScorer } from '../../../shared/training/predict.ts';
import type { NamedWeights } from '../../../shared/weights/index.ts';
import type { LoadedModelInfo } from '../schemas/model.ts';

/** A model (one network or an ensemble) ready to predict, with what the API says about it. */
export interface LoadedModel {
  /** P(PNEUMONIA) on tfjs, synchronously. */
  readonly score: BatchScorer;
  /** P(PNEUMONIA) with the runtime that serves diagnoses (info.inferRuntime). */
  predict(xs: Float32Array, count: number, size: number): Promise<Float32Array>;
  readonly info: LoadedModelInfo;
  /** The tfjs networks (one, or an ensemble's members): Grad-CAM and the ONNX export. */
  readonly networks: readonly tf.LayersModel[];
  readonly tta: TtaPolicy;
  /**
   * Grad-CAM of one decoded image (size x size, as `score` reads it), the members' mean map
   * for an ensemble; throws GradCamUnsupportedError for a network without a usable conv stage.
   */
  explain(pixels: Float32Array): GradCamMap;
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
 * Builds the networks (one, or an ensemble's members), sets their weights and runs them once
 * on a blank image, so a broken model fails here (not on a request) and the first request
 * pays no warm-up. The score is the members' mean P(PNEUMONIA), over the test-time variants
 * when the model asks for them (shared/model/tta.ts).
 */
export function instantiateModel(
  spec: { architecture: ArchitectureName; inputSize: number; width: number; tta?: TtaPolicy },
  members: ReadonlyArray<readonly NamedWeights[]>,
  info: Omit<LoadedModelInfo, 'members'>,
): LoadedModel {
  const networks: tf.LayersModel[] = [];
  const size = spec.inputSize;
  try {
    for (const weights of members) {
      const model = buildModel(spec.architecture, { inputSize: size, width: spec.width });
      networks.push(model);
      setModelWeights(model, weights);
    }
    const [p] = ensembleScorer(networks)(new Float32Array(size * size), 1, size);
    if (!Number.isFinite(p)) throw new Error(`the model predicts ${p} on a blank image`);
  } catch (error) {
    for (const n of networks) n.dispose();
    throw error;
  }
  let disposed = false;
  // Built on the first explanation: a model that cannot explain still serves diagnoses.
  let explainers: GradCamExplainer[] | undefined;
  const score = ttaScorer(ensembleScorer(networks), spec.tta ?? 'none');
  return {
    score,
    predict: async (xs, count, s) => score(xs, count, s),
    info: { ...info, members: networks.length, inferRuntime: `tfjs-${tf.getBackend()}` },
    networks,
    tta: spec.tta ?? 'none',
    explain(pixels) {
      explainers ??= networks.map((n) => gradCamExplainer(n));
      return ensembleGradCam(explainers, pixels, size);
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const n of networks) n.dispose();
    },
  };
}
