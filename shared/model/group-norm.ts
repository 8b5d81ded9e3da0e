import { tf } from '../tf/tf.ts';

export interface GroupNormalizationArgs {
  groups?: number;
  epsilon?: number;
  /** Initialise the scale to 0 instead of 1. */
  zeroGamma?: boolean;
  name?: string;
}

/**
 * GroupNormalization (Wu & He, 2018) for NHWC feature maps: channels are split into
 * `groups` groups and each group is normalised over H, W and its channels, per sample, so
 * the statistics do not depend on the batch size (the paper's reason to replace BatchNorm).
 * tfjs-layers has no such layer; this one is registered for serialization.
 */
export class GroupNormalization extends tf.layers.Layer {
  static readonly className = 'GroupNormalization';
  readonly groups: number;
  readonly epsilon: number;
  readonly zeroGamma: boolean;
  private gamma!: tf.LayerVariable;
  private beta!: tf.LayerVariable;

  constructor(args: GroupNormalizationArgs = {}) {
    super({ name: args.name });
    this.groups = args.groups ?? 16;
    this.epsilon = args.epsilon ?? 1e-5;
    this.zeroGamma = args.zeroGamma ?? false;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const channels = shape[shape.length - 1];
    if (channels == null || channels % this.groups !== 0) {
      throw new Error(
        `GroupNormalization ${this.name}: ${channels} channels are not divisible into ${this.groups} groups`,
      );
    }
    this.gamma = this.addWeight(
      'gamma',
      [channels],
      'float32',
      this.zeroGamma ? tf.initializers.zeros() : tf.initializers.ones(),
    );
    this.beta = this.addWeight('beta', [channels], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const [n, h, w, c] = x.shape;
      const grouped = tf.reshape(x, [n, h, w, this.groups, c / this.groups]);
      const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
      const normalised = tf.mul(tf.sub(grouped, mean), tf.rsqrt(tf.add(variance, this.epsilon)));
      return tf.add(
        tf.mul(tf.reshape(normalised, [n, h, w, c]), this.gamma.read()),
        this.beta.read(),
      );
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      groups: this.groups,
      epsilon: this.epsilon,
      zeroGamma: this.zeroGamma,
    };
  }
}

tf.serialization.registerClass(GroupNormalization);
