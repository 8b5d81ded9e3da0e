import type { tf } from '../tf/tf.ts';
import { buildAlexNet, buildVgg16 } from './classic-cnns.ts';
import { buildResNet18 } from './resnet18.ts';

export const ARCHITECTURE_NAMES = [
  'se-resnet18-gn',
  'se-resnet18-bn',
  'resnet18',
  'alexnet',
  'vgg16',
] as const;
export type ArchitectureName = (typeof ARCHITECTURE_NAMES)[number];

export interface BuildOptions {
  inputSize: number;
  seed?: number;
  /**
   * Shrinks the network for tests and quick experiments: the base channel count for ResNets
   * (64 = the paper), a width multiplier of 64 / width for AlexNet and VGG. Topology is unchanged.
   */
  width?: number;
}

interface ArchitectureSpec {
  description: string;
  /** BatchNorm layers: their statistics depend on the batch, so no data-parallel training. */
  batchNorm: boolean;
  build(options: BuildOptions): tf.LayersModel;
}

export const ARCHITECTURES: Record<ArchitectureName, ArchitectureSpec> = {
  'se-resnet18-gn': {
    batchNorm: false,
    description: "The paper's model: ResNet-18 with GroupNorm (G=16) and SE blocks (r=16)",
    build: (o) =>
      buildResNet18({ ...o, norm: 'group', squeezeExcite: true, name: 'se_resnet18_gn' }),
  },
  'se-resnet18-bn': {
    batchNorm: true,
    description: 'Baseline: ResNet-18 with BatchNorm and SE blocks',
    build: (o) =>
      buildResNet18({ ...o, norm: 'batch', squeezeExcite: true, name: 'se_resnet18_bn' }),
  },
  resnet18: {
    batchNorm: true,
    description: 'Baseline: plain ResNet-18 with BatchNorm',
    build: (o) => buildResNet18({ ...o, norm: 'batch', squeezeExcite: false, name: 'resnet18' }),
  },
  alexnet: {
    batchNorm: false,
    description: 'Baseline: AlexNet (5 conv + 3 dense), adapted to the input size',
    build: (o) => buildAlexNet({ ...o, widthScale: (o.width ?? 64) / 64 }),
  },
  vgg16: {
    batchNorm: false,
    description: 'Baseline: VGG-16 (13 conv + 3 dense), adapted to the input size',
    build: (o) => buildVgg16({ ...o, widthScale: (o.width ?? 64) / 64 }),
  },
};

export function isArchitectureName(name: string): name is ArchitectureName {
  return (ARCHITECTURE_NAMES as readonly string[]).includes(name);
}

/** Whether the architecture normalises with batch statistics (BatchNorm). */
export function usesBatchNorm(architecture: string): boolean {
  return isArchitectureName(architecture) && ARCHITECTURES[architecture].batchNorm;
}

export function buildModel(architecture: string, options: BuildOptions): tf.LayersModel {
  if (!isArchitectureName(architecture)) {
    throw new Error(
      `Unknown architecture "${architecture}"; choose one of ${ARCHITECTURE_NAMES.join(', ')}`,
    );
  }
  if (!Number.isInteger(options.inputSize) || options.inputSize < 32) {
    throw new Error(
      `Input size must be an integer of at least 32 pixels, got ${options.inputSize}`,
    );
  }
  return ARCHITECTURES[architecture].build(options);
}
