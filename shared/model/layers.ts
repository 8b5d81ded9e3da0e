import { tf } from '../tf/tf.ts';
import { SeededDropout } from './dropout.ts';
import { GroupNormalization } from './group-norm.ts';

export type NormKind = 'group' | 'batch';
export type SymbolicTensor = tf.SymbolicTensor;

/**
 * Builds layers with explicit, deterministic names so weight names are identical across
 * model instances and processes (auto-generated tfjs names carry a global counter).
 */
export class LayerFactory {
  private seedCounter: number;

  constructor(seed: number) {
    this.seedCounter = seed * 1000;
  }

  private nextSeed(): number {
    return this.seedCounter++;
  }

  conv(
    x: SymbolicTensor,
    name: string,
    filters: number,
    kernelSize: number,
    strides = 1,
    useBias = false,
  ): SymbolicTensor {
    return tf.layers
      .conv2d({
        name,
        filters,
        kernelSize,
        strides,
        padding: 'same',
        useBias,
        kernelInitializer: tf.initializers.heNormal({ seed: this.nextSeed() }),
      })
      .apply(x) as SymbolicTensor;
  }

  /** `zeroGamma` starts the layer's scale at 0 (used on the last norm of a residual branch). */
  norm(
    x: SymbolicTensor,
    name: string,
    kind: NormKind,
    groups: number,
    zeroGamma = false,
  ): SymbolicTensor {
    if (kind === 'batch') {
      return tf.layers
        .batchNormalization({
          name,
          momentum: 0.9,
          epsilon: 1e-5,
          gammaInitializer: zeroGamma ? 'zeros' : 'ones',
        })
        .apply(x) as SymbolicTensor;
    }
    const channels = x.shape[x.shape.length - 1] as number;
    return new GroupNormalization({
      name,
      groups: Math.min(groups, channels),
      zeroGamma,
    }).apply(x) as SymbolicTensor;
  }

  relu(x: SymbolicTensor, name: string): SymbolicTensor {
    return tf.layers.reLU({ name }).apply(x) as SymbolicTensor;
  }

  dense(
    x: SymbolicTensor,
    name: string,
    units: number,
    activation: 'relu' | 'sigmoid' | 'softmax' | 'linear',
  ): SymbolicTensor {
    const kernelInitializer =
      activation === 'relu'
        ? tf.initializers.heNormal({ seed: this.nextSeed() })
        : tf.initializers.glorotUniform({ seed: this.nextSeed() });
    return tf.layers
      .dense({ name, units, activation, kernelInitializer })
      .apply(x) as SymbolicTensor;
  }

  maxPool(x: SymbolicTensor, name: string, poolSize: number, strides: number): SymbolicTensor {
    return tf.layers
      .maxPooling2d({ name, poolSize, strides, padding: 'same' })
      .apply(x) as SymbolicTensor;
  }

  dropout(x: SymbolicTensor, name: string, rate: number): SymbolicTensor {
    return new SeededDropout({ name, rate, seed: this.nextSeed() }).apply(x) as SymbolicTensor;
  }

  /**
   * Squeeze-and-excitation (Hu et al.): global pool, dense C/r + ReLU, dense C + sigmoid,
   * channel-wise rescale of the input.
   */
  squeezeExcite(x: SymbolicTensor, name: string, reduction: number): SymbolicTensor {
    const channels = x.shape[x.shape.length - 1] as number;
    const squeezed = tf.layers
      .globalAveragePooling2d({ name: `${name}_pool` })
      .apply(x) as SymbolicTensor;
    const hidden = this.dense(
      squeezed,
      `${name}_reduce`,
      Math.max(1, Math.floor(channels / reduction)),
      'relu',
    );
    const gate = this.dense(hidden, `${name}_expand`, channels, 'sigmoid');
    const gate4d = tf.layers
      .reshape({ name: `${name}_reshape`, targetShape: [1, 1, channels] })
      .apply(gate) as SymbolicTensor;
    return tf.layers.multiply({ name: `${name}_scale` }).apply([x, gate4d]) as SymbolicTensor;
  }
}
