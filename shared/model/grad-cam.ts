/**
 * Grad-CAM (Selvaraju et al. 2017): where in the image a network's last convolutional stage
 * carried the evidence for PNEUMONIA. The score is the log-odds z_PNEUMONIA - z_NORMAL (the
 * logits before the softmax, as in the paper: a saturated probability has no gradient); each
 * channel k of the stage's activation A is weighted by the spatial mean of dScore/dA_k, and the
 * map is ReLU(sum_k w_k A_k), normalised to [0, 1]. One forward and one backward pass through
 * the head per network; the convolutions below the stage are not differentiated.
 */
import { tf } from '../tf/tf.ts';

/** The model has no conv stage followed by a plain chain of layers to a 2-class softmax. */
export class GradCamUnsupportedError extends Error {
  override readonly name = 'GradCamUnsupportedError';
}

export interface GradCamMap {
  /** The layer whose activation was explained. */
  layer: string;
  /** The map's resolution: the layer's spatial size. */
  height: number;
  width: number;
  /** ReLU(sum_k w_k A_k), row-major, before normalisation (for comparing maps). */
  raw: Float32Array;
  /** `raw` scaled to [0, 1] by its min and max; all zeros when the map is flat. */
  map: Float32Array;
}

export interface GradCamExplainer {
  layer: string;
  height: number;
  width: number;
  /** Explains one image of `size` x `size` normalised pixels (what the network reads). */
  explain(pixels: Float32Array, size: number): GradCamMap;
}

function isSpatial(layer: tf.layers.Layer): boolean {
  const shape = layer.outputShape;
  return Array.isArray(shape) && !Array.isArray(shape[0]) && shape.length === 4;
}

function inboundLayers(layer: tf.layers.Layer): tf.layers.Layer[] {
  return layer.inboundNodes[0]?.inboundLayers ?? [];
}

/**
 * The last convolutional stage: the last layer with a spatial (rank-4) output that is not a
 * pooling layer (ResNet: stage4_block2_out; AlexNet: relu5; VGG-16: block5_relu3).
 */
export function lastConvStage(model: tf.LayersModel): string {
  const layer = [...model.layers]
    .reverse()
    .find((l) => isSpatial(l) && !/Pooling/.test(l.getClassName()));
  if (!layer) throw new GradCamUnsupportedError(`${model.name} has no convolutional stage`);
  return layer.name;
}

/**
 * The layers from just after `layerName` to the output, which must be a chain (each fed only
 * by the one before) ending in a 2-unit softmax Dense layer.
 */
function headChain(model: tf.LayersModel, layerName: string): tf.layers.Layer[] {
  const index = model.layers.findIndex((l) => l.name === layerName);
  if (index < 0) throw new GradCamUnsupportedError(`${model.name} has no layer ${layerName}`);
  const chain = model.layers.slice(index + 1);
  let previous = model.layers[index];
  for (const layer of chain) {
    const inbound = inboundLayers(layer);
    if (inbound.length !== 1 || inbound[0] !== previous) {
      throw new GradCamUnsupportedError(
        `${model.name}: ${layer.name} is not fed by ${previous.name} alone, so the head after ` +
          `${layerName} is not a chain`,
      );
    }
    previous = layer;
  }
  const last = chain.at(-1);
  const config = last?.getConfig();
  if (!last || last.getClassName() !== 'Dense' || config?.units !== 2) {
    throw new GradCamUnsupportedError(`${model.name} does not end in a 2-class Dense layer`);
  }
  return chain;
}

/** min-max scaling to [0, 1]; a flat map (no positive evidence anywhere) stays all zeros. */
export function normaliseMap(raw: Float32Array): Float32Array {
  let min = Infinity;
  let max = -Infinity;
  for (const v of raw) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const out = new Float32Array(raw.length);
  const range = max - min;
  if (!(range > 1e-12)) return out;
  for (let i = 0; i < raw.length; i++) out[i] = (raw[i] - min) / range;
  return out;
}

/** Prepares Grad-CAM for one network at `layerName` (default: its last conv stage). */
export function gradCamExplainer(model: tf.LayersModel, layerName?: string): GradCamExplainer {
  const layer = layerName ?? lastConvStage(model);
  const chain = headChain(model, layer);
  const target = model.getLayer(layer);
  if (!isSpatial(target)) throw new GradCamUnsupportedError(`${layer} has no spatial output`);
  const [, height, width] = target.outputShape as number[];
  // Shares the network's layers and weights; tf.model adds no nodes to them.
  const features = tf.model({ inputs: model.inputs, outputs: target.output as tf.SymbolicTensor });
  const hidden = chain.slice(0, -1);
  const dense = chain[chain.length - 1];

  const logOdds = (activation: tf.Tensor): tf.Scalar => {
    let h = activation;
    for (const l of hidden) h = l.apply(h, { training: false }) as tf.Tensor;
    const [kernel, bias] = dense.getWeights();
    const logits = tf.add(tf.matMul(h as tf.Tensor2D, kernel as tf.Tensor2D), bias);
    const [normal, pneumonia] = tf.split(logits, 2, 1);
    return tf.sum(tf.sub(pneumonia, normal));
  };
  const gradient = tf.grad(logOdds);

  return {
    layer,
    height,
    width,
    explain(pixels, size) {
      if (pixels.length !== size * size) {
        throw new RangeError(`expected ${size * size} pixels, got ${pixels.length}`);
      }
      const raw = tf.tidy(() => {
        const input = tf.tensor4d(pixels, [1, size, size, 1]);
        const activation = features.apply(input, { training: false }) as tf.Tensor4D;
        const channelWeights = tf.mean(gradient(activation), [1, 2], true);
        return tf.relu(tf.sum(tf.mul(activation, channelWeights), 3)).dataSync() as Float32Array;
      });
      return { layer, height, width, raw, map: normaliseMap(raw) };
    },
  };
}

/**
 * Grad-CAM of an ensemble: the mean of its members' normalised maps (members share one
 * architecture, so one layer and one resolution). `raw` is the mean of the raw maps.
 */
export function ensembleGradCam(
  explainers: readonly GradCamExplainer[],
  pixels: Float32Array,
  size: number,
): GradCamMap {
  if (explainers.length === 0) throw new RangeError('an ensemble needs at least one member');
  const [first] = explainers;
  const sum = {
    raw: new Float32Array(first.height * first.width),
    map: new Float32Array(first.height * first.width),
  };
  for (const explainer of explainers) {
    if (explainer.height !== first.height || explainer.width !== first.width) {
      throw new GradCamUnsupportedError('ensemble members explain at different resolutions');
    }
    const one = explainer.explain(pixels, size);
    for (let i = 0; i < sum.map.length; i++) {
      sum.raw[i] += one.raw[i] / explainers.length;
      sum.map[i] += one.map[i] / explainers.length;
    }
  }
  return { layer: first.layer, height: first.height, width: first.width, ...sum };
}
