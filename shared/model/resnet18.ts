import { tf } from '../tf/tf.ts';
import { LayerFactory, type NormKind, type SymbolicTensor } from './layers.ts';

export interface ResNet18Options {
  inputSize: number;
  norm: NormKind;
  squeezeExcite: boolean;
  /** Channels of the stem and first stage (64 in the paper); smaller for tests. */
  width?: number;
  /** GroupNorm groups (16 in the paper); capped at the channel count. */
  groups?: number;
  seReduction?: number;
  seed?: number;
  name?: string;
}

/**
 * ResNet-18 (He et al.): 7x7/64 stride-2 stem, 3x3/2 max pool, 4 stages of 2 basic blocks,
 * global average pool, one dense layer: 17 weight convolutions + 1 dense (the 1x1 projection
 * shortcuts are not counted, as usual). The paper's FL-SE-ResNet-GN variant uses GroupNorm
 * (G = 16) for every BatchNorm and an SE block on each residual branch before the addition.
 */
export function buildResNet18(options: ResNet18Options): tf.LayersModel {
  const width = options.width ?? 64;
  const groups = options.groups ?? 16;
  const reduction = options.seReduction ?? 16;
  const f = new LayerFactory(options.seed ?? 1);
  const input = tf.input({ shape: [options.inputSize, options.inputSize, 1], name: 'image' });

  let x = f.conv(input, 'stem_conv', width, 7, 2);
  x = f.norm(x, 'stem_norm', options.norm, groups);
  x = f.relu(x, 'stem_relu');
  x = f.maxPool(x, 'stem_pool', 3, 2);

  const stageWidths = [width, width * 2, width * 4, width * 8];
  stageWidths.forEach((channels, stageIndex) => {
    for (let blockIndex = 0; blockIndex < 2; blockIndex++) {
      const strides = stageIndex > 0 && blockIndex === 0 ? 2 : 1;
      x = basicBlock(f, x, `stage${stageIndex + 1}_block${blockIndex + 1}`, channels, strides, {
        norm: options.norm,
        groups,
        squeezeExcite: options.squeezeExcite,
        reduction,
      });
    }
  });

  x = tf.layers.globalAveragePooling2d({ name: 'head_pool' }).apply(x) as SymbolicTensor;
  const output = f.dense(x, 'head_dense', 2, 'softmax');
  return tf.model({ inputs: input, outputs: output, name: options.name ?? 'resnet18' });
}

interface BlockOptions {
  norm: NormKind;
  groups: number;
  squeezeExcite: boolean;
  reduction: number;
}

function basicBlock(
  f: LayerFactory,
  input: SymbolicTensor,
  name: string,
  channels: number,
  strides: number,
  o: BlockOptions,
): SymbolicTensor {
  let branch = f.conv(input, `${name}_conv1`, channels, 3, strides);
  branch = f.norm(branch, `${name}_norm1`, o.norm, o.groups);
  branch = f.relu(branch, `${name}_relu1`);
  branch = f.conv(branch, `${name}_conv2`, channels, 3, 1);
  // Zero-initialised scale: each block starts as the identity, which keeps the first
  // optimizer steps of this deep network stable (Goyal et al., 2017).
  branch = f.norm(branch, `${name}_norm2`, o.norm, o.groups, true);
  if (o.squeezeExcite) branch = f.squeezeExcite(branch, `${name}_se`, o.reduction);

  const inputChannels = input.shape[input.shape.length - 1];
  let shortcut = input;
  if (strides !== 1 || inputChannels !== channels) {
    shortcut = f.conv(input, `${name}_proj`, channels, 1, strides);
    shortcut = f.norm(shortcut, `${name}_proj_norm`, o.norm, o.groups);
  }
  const sum = tf.layers.add({ name: `${name}_add` }).apply([branch, shortcut]) as SymbolicTensor;
  return f.relu(sum, `${name}_out`);
}
