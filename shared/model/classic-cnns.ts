import { tf } from '../tf/tf.ts';
import { LayerFactory, type SymbolicTensor } from './layers.ts';

export interface ClassicCnnOptions {
  inputSize: number;
  /** Width multiplier of the conv channels (1 = the published network); smaller for tests. */
  widthScale?: number;
  seed?: number;
}

/** Dense layers of the classifier: the published 4096 at full resolution, narrower below. */
function classifierUnits(inputSize: number): number {
  return inputSize >= 160 ? 4096 : 1024;
}

function scaled(channels: number, scale: number): number {
  return Math.max(4, Math.round(channels * scale));
}

function classifier(
  f: LayerFactory,
  x: SymbolicTensor,
  inputSize: number,
  dropout: number,
): tf.SymbolicTensor {
  const units = classifierUnits(inputSize);
  let h = tf.layers.flatten({ name: 'head_flatten' }).apply(x) as SymbolicTensor;
  h = f.dropout(h, 'head_dropout1', dropout);
  h = f.dense(h, 'head_dense1', units, 'relu');
  h = f.dropout(h, 'head_dropout2', dropout);
  h = f.dense(h, 'head_dense2', units, 'relu');
  return f.dense(h, 'head_dense', 2, 'softmax');
}

/**
 * AlexNet (Krizhevsky et al., 2012), 5 conv + 3 dense, without LRN (as in common re-implementations).
 * Adapted to the input size: below 160 px the 11x11 stride-4 stem becomes 5x5 stride 2 so the
 * feature maps do not vanish, and the dense layers are narrower (see classifierUnits).
 */
export function buildAlexNet(options: ClassicCnnOptions): tf.LayersModel {
  const s = options.widthScale ?? 1;
  const f = new LayerFactory(options.seed ?? 1);
  const large = options.inputSize >= 160;
  const input = tf.input({ shape: [options.inputSize, options.inputSize, 1], name: 'image' });
  let x = f.conv(input, 'conv1', scaled(64, s), large ? 11 : 5, large ? 4 : 2, true);
  x = f.relu(x, 'relu1');
  x = f.maxPool(x, 'pool1', 3, 2);
  x = f.relu(f.conv(x, 'conv2', scaled(192, s), 5, 1, true), 'relu2');
  x = f.maxPool(x, 'pool2', 3, 2);
  x = f.relu(f.conv(x, 'conv3', scaled(384, s), 3, 1, true), 'relu3');
  x = f.relu(f.conv(x, 'conv4', scaled(256, s), 3, 1, true), 'relu4');
  x = f.relu(f.conv(x, 'conv5', scaled(256, s), 3, 1, true), 'relu5');
  x = f.maxPool(x, 'pool5', 3, 2);
  return tf.model({
    inputs: input,
    outputs: classifier(f, x, options.inputSize, 0.5),
    name: 'alexnet',
  });
}

/** VGG-16 (Simonyan & Zisserman, 2014): 13 conv in 5 blocks + 3 dense. */
export function buildVgg16(options: ClassicCnnOptions): tf.LayersModel {
  const s = options.widthScale ?? 1;
  const f = new LayerFactory(options.seed ?? 1);
  const input = tf.input({ shape: [options.inputSize, options.inputSize, 1], name: 'image' });
  const blocks: number[][] = [
    [64, 64],
    [128, 128],
    [256, 256, 256],
    [512, 512, 512],
    [512, 512, 512],
  ];
  let x: SymbolicTensor = input;
  blocks.forEach((convs, b) => {
    convs.forEach((channels, c) => {
      x = f.relu(
        f.conv(x, `block${b + 1}_conv${c + 1}`, scaled(channels, s), 3, 1, true),
        `block${b + 1}_relu${c + 1}`,
      );
    });
    x = f.maxPool(x, `block${b + 1}_pool`, 2, 2);
  });
  return tf.model({
    inputs: input,
    outputs: classifier(f, x, options.inputSize, 0.5),
    name: 'vgg16',
  });
}
