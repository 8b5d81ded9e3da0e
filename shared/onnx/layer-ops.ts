/**
 * tfjs layers as ONNX nodes. tfjs computes NHWC, ONNX convolutions NCHW: every rank-4 tensor
 * of the ONNX graph is kept NCHW (the graph transposes its input once), so kernels are
 * transposed HWIO -> OIHW here and the few layout-sensitive layers (Flatten, Reshape) transpose
 * back to NHWC around themselves, which keeps the dense weights in tfjs' order.
 */
import type { tf } from '../tf/tf.ts';
import type { GraphBuilder } from './graph.ts';

/** A graph tensor and its tfjs (NHWC) shape, batch first (null). */
export interface TensorRef {
  name: string;
  shape: (number | null)[];
}

export interface LayerContext {
  graph: GraphBuilder;
  /** Prefix of node names (an ensemble member's). */
  prefix: string;
}

type ConfigValue = tf.serialization.ConfigDictValue;

function config(layer: tf.layers.Layer): Record<string, ConfigValue> {
  return layer.getConfig() as Record<string, ConfigValue>;
}

function pair(value: ConfigValue, what: string): [number, number] {
  if (typeof value === 'number') return [value, value];
  if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number'))
    return [value[0] as number, value[1] as number];
  throw new Error(`unsupported ${what}: ${JSON.stringify(value)}`);
}

function weight(layer: tf.layers.Layer, suffix: string): { shape: number[]; data: Float32Array } {
  const variable = layer.weights.find((w) => w.originalName === `${layer.name}/${suffix}`);
  if (!variable) throw new Error(`layer ${layer.name} has no weight ${suffix}`);
  const value = variable.read();
  return { shape: [...value.shape], data: new Float32Array(value.dataSync()) };
}

function hasWeight(layer: tf.layers.Layer, suffix: string): boolean {
  return layer.weights.some((w) => w.originalName === `${layer.name}/${suffix}`);
}

/** ONNX pads [top, left, bottom, right] reproducing tfjs padding (TF's 'same': extra at the end). */
export function explicitPads(
  padding: string,
  inputHw: [number, number],
  kernel: [number, number],
  strides: [number, number],
  dilations: [number, number] = [1, 1],
): number[] {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding !== 'same') throw new Error(`unsupported padding '${padding}'`);
  const begin: number[] = [];
  const end: number[] = [];
  for (let d = 0; d < 2; d++) {
    const effective = (kernel[d] - 1) * dilations[d] + 1;
    const out = Math.ceil(inputHw[d] / strides[d]);
    const total = Math.max((out - 1) * strides[d] + effective - inputHw[d], 0);
    begin.push(Math.floor(total / 2));
    end.push(total - Math.floor(total / 2));
  }
  return [...begin, ...end];
}

function spatial(ref: TensorRef, layer: tf.layers.Layer): [number, number] {
  const [, h, w] = ref.shape;
  if (ref.shape.length !== 4 || typeof h !== 'number' || typeof w !== 'number')
    throw new Error(`layer ${layer.name}: needs a 4-D input of known size, got ${ref.shape}`);
  return [h, w];
}

function channelsLast(layer: tf.layers.Layer): void {
  const format = config(layer).dataFormat;
  if (format !== undefined && format !== 'channelsLast')
    throw new Error(`layer ${layer.name}: data format ${String(format)} is not supported`);
}

function activation(ctx: LayerContext, x: string, kind: ConfigValue, name: string): string {
  switch (kind ?? 'linear') {
    case 'linear':
      return x;
    case 'relu':
      return ctx.graph.op('Relu', [x], `${name}/relu`);
    case 'sigmoid':
      return ctx.graph.op('Sigmoid', [x], `${name}/sigmoid`);
    case 'softmax':
      return ctx.graph.op('Softmax', [x], `${name}/softmax`, { axis: -1 });
    default:
      throw new Error(`activation ${String(kind)} is not supported`);
  }
}

/** HWIO -> OIHW */
function convKernel(shape: number[], data: Float32Array): { dims: number[]; data: Float32Array } {
  const [kh, kw, ci, co] = shape;
  const out = new Float32Array(data.length);
  for (let h = 0; h < kh; h++)
    for (let w = 0; w < kw; w++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++)
          out[((o * ci + i) * kh + h) * kw + w] = data[((h * kw + w) * ci + i) * co + o];
  return { dims: [co, ci, kh, kw], data: out };
}

function conv2d(ctx: LayerContext, layer: tf.layers.Layer, [x]: TensorRef[], name: string): string {
  channelsLast(layer);
  const c = config(layer);
  const kernelSize = pair(c.kernelSize, 'kernel size');
  const strides = pair(c.strides ?? 1, 'strides');
  const dilations = pair(c.dilationRate ?? 1, 'dilation');
  const k = weight(layer, 'kernel');
  const kernel = convKernel(k.shape, k.data);
  const inputs = [x.name, ctx.graph.floatTensor(`${name}/W`, kernel.dims, kernel.data)];
  if (hasWeight(layer, 'bias')) {
    const b = weight(layer, 'bias');
    inputs.push(ctx.graph.floatTensor(`${name}/B`, b.shape, b.data));
  }
  const y = ctx.graph.op('Conv', inputs, name, {
    kernel_shape: kernelSize,
    strides,
    dilations,
    pads: explicitPads(String(c.padding), spatial(x, layer), kernelSize, strides, dilations),
  });
  return activation(ctx, y, c.activation, name);
}

function dense(ctx: LayerContext, layer: tf.layers.Layer, [x]: TensorRef[], name: string): string {
  if (x.shape.length !== 2)
    throw new Error(`dense layer ${layer.name} on a rank-${x.shape.length} input`);
  const k = weight(layer, 'kernel');
  const w = ctx.graph.floatTensor(`${name}/W`, k.shape, k.data);
  let y: string;
  if (hasWeight(layer, 'bias')) {
    const b = weight(layer, 'bias');
    y = ctx.graph.op(
      'Gemm',
      [x.name, w, ctx.graph.floatTensor(`${name}/B`, b.shape, b.data)],
      name,
    );
  } else {
    y = ctx.graph.op('MatMul', [x.name, w], name);
  }
  return activation(ctx, y, config(layer).activation, name);
}

/**
 * GroupNorm as Reshape [N, G, C/G*H*W] -> InstanceNormalization (unit scale, zero shift) ->
 * Reshape back -> per-channel scale and shift, the decomposition PyTorch's exporter uses. Not
 * opset 18's GroupNormalization: there scale and bias are per group (fixed to per channel only
 * in opset 21, IR 10), and few runtimes implement either natively; InstanceNormalization is a
 * single fused kernel everywhere.
 */
function groupNorm(
  ctx: LayerContext,
  layer: tf.layers.Layer,
  [x]: TensorRef[],
  name: string,
): string {
  const c = config(layer);
  const groups = Number(c.groups);
  const epsilon = Number(c.epsilon);
  const [h, w] = spatial(x, layer);
  const channels = x.shape[3] as number;
  const g = ctx.graph;
  const grouped = g.op(
    'Reshape',
    [x.name, g.int64Tensor(`${name}/groups_shape`, [0, groups, -1])],
    `${name}/group`,
  );
  const normalised = g.op(
    'InstanceNormalization',
    [
      grouped,
      g.floatTensor(`${name}/unit_scale`, [groups], new Float32Array(groups).fill(1)),
      g.floatTensor(`${name}/zero_bias`, [groups], new Float32Array(groups)),
    ],
    `${name}/normalise`,
    { epsilon: { float: epsilon } },
  );
  const back = g.op(
    'Reshape',
    [normalised, g.int64Tensor(`${name}/nchw_shape`, [0, channels, h, w])],
    `${name}/ungroup`,
  );
  const gamma = weight(layer, 'gamma');
  const beta = weight(layer, 'beta');
  const scaled = g.op(
    'Mul',
    [back, g.floatTensor(`${name}/gamma`, [channels, 1, 1], gamma.data)],
    `${name}/scale`,
  );
  return g.op('Add', [scaled, g.floatTensor(`${name}/beta`, [channels, 1, 1], beta.data)], name);
}

function batchNorm(
  ctx: LayerContext,
  layer: tf.layers.Layer,
  [x]: TensorRef[],
  name: string,
): string {
  const c = config(layer);
  if (c.axis !== -1 && c.axis !== 3)
    throw new Error(`batch norm ${layer.name} on axis ${String(c.axis)}`);
  const channels = x.shape[x.shape.length - 1] as number;
  const g = ctx.graph;
  const get = (suffix: string, fill: number): Float32Array =>
    hasWeight(layer, suffix) ? weight(layer, suffix).data : new Float32Array(channels).fill(fill);
  return g.op(
    'BatchNormalization',
    [
      x.name,
      g.floatTensor(`${name}/gamma`, [channels], get('gamma', 1)),
      g.floatTensor(`${name}/beta`, [channels], get('beta', 0)),
      g.floatTensor(`${name}/mean`, [channels], get('moving_mean', 0)),
      g.floatTensor(`${name}/var`, [channels], get('moving_variance', 1)),
    ],
    name,
    { epsilon: { float: Number(c.epsilon) } },
  );
}

function maxPool(
  ctx: LayerContext,
  layer: tf.layers.Layer,
  [x]: TensorRef[],
  name: string,
): string {
  channelsLast(layer);
  const c = config(layer);
  const kernel = pair(c.poolSize, 'pool size');
  const strides = pair(c.strides ?? c.poolSize, 'strides');
  return ctx.graph.op('MaxPool', [x.name], name, {
    kernel_shape: kernel,
    strides,
    pads: explicitPads(String(c.padding), spatial(x, layer), kernel, strides),
  });
}

function reshape(
  ctx: LayerContext,
  layer: tf.layers.Layer,
  [x]: TensorRef[],
  name: string,
): string {
  const target = config(layer).targetShape;
  if (!Array.isArray(target) || !target.every((d) => typeof d === 'number'))
    throw new Error(`reshape ${layer.name}: target ${JSON.stringify(target)}`);
  const dims = target as number[];
  const g = ctx.graph;
  // A [N, K] vector to [N, 1, 1, C] (the SE gate): the same bytes in NCHW, one Reshape.
  if (x.shape.length === 2 && dims.length === 3 && dims[0] === 1 && dims[1] === 1)
    return g.op('Reshape', [x.name, g.int64Tensor(`${name}/shape`, [0, dims[2], 1, 1])], name);
  const nhwc =
    x.shape.length === 4
      ? g.op('Transpose', [x.name], `${name}/to_nhwc`, { perm: [0, 2, 3, 1] })
      : x.name;
  const y = g.op(
    'Reshape',
    [nhwc, g.int64Tensor(`${name}/shape`, [0, ...dims])],
    `${name}/reshape`,
  );
  return dims.length === 3 ? g.op('Transpose', [y], name, { perm: [0, 3, 1, 2] }) : y;
}

function flatten(
  ctx: LayerContext,
  _layer: tf.layers.Layer,
  [x]: TensorRef[],
  name: string,
): string {
  if (x.shape.length === 2) return x.name;
  // tfjs flattens H, W, C: back to NHWC first, so the next dense kernel keeps its row order.
  const nhwc =
    x.shape.length === 4
      ? ctx.graph.op('Transpose', [x.name], `${name}/to_nhwc`, { perm: [0, 2, 3, 1] })
      : x.name;
  return ctx.graph.op('Flatten', [nhwc], name, { axis: 1 });
}

function relu(ctx: LayerContext, layer: tf.layers.Layer, [x]: TensorRef[], name: string): string {
  const maxValue = config(layer).maxValue;
  if (maxValue === undefined || maxValue === null) return ctx.graph.op('Relu', [x.name], name);
  const g = ctx.graph;
  return g.op(
    'Clip',
    [
      x.name,
      g.floatTensor(`${name}/min`, [], new Float32Array([0])),
      g.floatTensor(`${name}/max`, [], new Float32Array([Number(maxValue)])),
    ],
    name,
  );
}

function chain(op: 'Add' | 'Mul'): LayerOp {
  return (ctx, layer, inputs, name) => {
    if (inputs.length < 2) throw new Error(`${layer.name}: needs two inputs or more`);
    let y = inputs[0].name;
    for (let i = 1; i < inputs.length; i++)
      y = ctx.graph.op(op, [y, inputs[i].name], i === inputs.length - 1 ? name : `${name}/${i}`);
    return y;
  };
}

type LayerOp = (
  ctx: LayerContext,
  layer: tf.layers.Layer,
  inputs: TensorRef[],
  name: string,
) => string;

const identity: LayerOp = (_ctx, _layer, [x]) => x.name;

/** tfjs layer class name -> its ONNX nodes; the output's tfjs shape comes from the layer. */
export const LAYER_OPS: Record<string, LayerOp> = {
  Conv2D: conv2d,
  Dense: dense,
  GroupNormalization: groupNorm,
  BatchNormalization: batchNorm,
  MaxPooling2D: maxPool,
  GlobalAveragePooling2D: (ctx, layer, [x], name) => {
    channelsLast(layer);
    const pooled = ctx.graph.op('GlobalAveragePool', [x.name], `${name}/pool`);
    return ctx.graph.op('Flatten', [pooled], name, { axis: 1 });
  },
  ReLU: relu,
  Activation: (ctx, layer, [x], name) => activation(ctx, x.name, config(layer).activation, name),
  Add: chain('Add'),
  Multiply: chain('Mul'),
  Reshape: reshape,
  Flatten: flatten,
  // Inference only: dropout is the identity.
  Dropout: identity,
  SeededDropout: identity,
};
