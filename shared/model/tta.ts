/**
 * Test-time augmentation: a model's P(PNEUMONIA) averaged over a few fixed geometric variants
 * of each image (the identity, zoomed in and out, shifted), applied to the decoded image with
 * the training augmentation's own resampling. A model asks for it in its metadata
 * (`tta: 'affine5'`); evaluate, predict and the inference API then score every image that way,
 * so what is measured is what is served. Costs one forward pass per variant.
 */
import { applyAugment, IDENTITY_AUGMENT, type AugmentParams } from '../data/augment.ts';
import type { BatchScorer } from '../training/predict.ts';

export const TTA_POLICIES = ['none', 'affine5'] as const;
export type TtaPolicy = (typeof TTA_POLICIES)[number];

/** The variants of a policy; shifts are fractions of the side, resolved per image size. */
export function ttaVariants(policy: TtaPolicy, size: number): AugmentParams[] {
  if (policy === 'none') return [IDENTITY_AUGMENT];
  const shift = 0.05 * size;
  return [
    IDENTITY_AUGMENT,
    { ...IDENTITY_AUGMENT, zoom: 0.9 },
    { ...IDENTITY_AUGMENT, zoom: 1.1 },
    { ...IDENTITY_AUGMENT, shiftX: shift },
    { ...IDENTITY_AUGMENT, shiftX: -shift },
  ];
}

/** Every image of a batch as the policy's variants, one after another (count x variants). */
export function expandTta(
  xs: Float32Array,
  count: number,
  size: number,
  policy: TtaPolicy,
): { batch: Float32Array; variants: number } {
  const pixels = size * size;
  const variants = ttaVariants(policy, size);
  const batch = new Float32Array(count * variants.length * pixels);
  for (let i = 0; i < count; i++) {
    const image = xs.subarray(i * pixels, (i + 1) * pixels);
    variants.forEach((v, k) => {
      batch.set(applyAugment(image, size, v, 'edge'), (i * variants.length + k) * pixels);
    });
  }
  return { batch, variants: variants.length };
}

/** The mean over each image's variants of expandTta's scores. */
export function meanOverVariants(p: Float32Array, count: number, variants: number): Float32Array {
  const mean = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    let sum = 0;
    for (let k = 0; k < variants; k++) sum += p[i * variants + k];
    mean[i] = sum / variants;
  }
  return mean;
}

/** Wraps a scorer so that each image is scored as the mean over the policy's variants. */
export function ttaScorer(base: BatchScorer, policy: TtaPolicy): BatchScorer {
  if (policy === 'none') return base;
  return (xs, count, size) => {
    const { batch, variants } = expandTta(xs, count, size, policy);
    return meanOverVariants(base(batch, count * variants, size), count, variants);
  };
}
