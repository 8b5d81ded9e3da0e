/**
 * Class imbalance (train is about 1 NORMAL : 2.9 PNEUMONIA). Two remedies:
 * - class weights in the loss (the DEFAULT): every image is seen once per epoch, and the
 *   loss of class c is scaled by n / (2 n_c), so both classes carry equal total weight;
 * - oversampling (balancedSampleOrder): minority images repeated until the classes are equal
 *   in number; an epoch grows and repeated images add little beyond augmentation.
 */
import type { Rng } from '../util/random.ts';
import type { XrayRecord } from './dataset.ts';

export type BalancingMethod = 'class-weights' | 'oversample';
export const DEFAULT_BALANCING: BalancingMethod = 'class-weights';

export function classCounts(records: readonly XrayRecord[]): [number, number] {
  const counts: [number, number] = [0, 0];
  for (const r of records) counts[r.label]++;
  return counts;
}

/**
 * [w0, w1] with w_c = n / (K n_c), K the number of classes present (2 normally, giving
 * n / (2 n_c)). A class absent from records (possible on a non-IID federated client) gets
 * weight 0 instead of infinity, and the present class weight 1.
 */
export function classWeights(records: readonly XrayRecord[]): [number, number] {
  return classWeightsFromCounts(classCounts(records));
}

/**
 * The same weights from class counts alone. Summed over a federation's hospitals, they make
 * every hospital's loss a share of the pooled loss, so FedAvg weighted by image counts
 * optimises what pooled training optimises; each hospital's own weights do not (a hospital
 * with 1 PNEUMONIA image among 954 would weigh it 477 times a NORMAL one).
 */
export function classWeightsFromCounts(counts: readonly [number, number]): [number, number] {
  const n = counts[0] + counts[1];
  const present = counts.filter((c) => c > 0).length;
  if (present === 0) return [0, 0];
  return counts.map((c) => (c > 0 ? n / (present * c) : 0)) as [number, number];
}

/**
 * A federation's class weights: classWeightsFromCounts of the hospitals' summed
 * [NORMAL, PNEUMONIA] counts, with the sums they came from.
 */
export function pooledClassWeights(perHospital: Iterable<readonly [number, number]>): {
  counts: [number, number];
  weights: [number, number];
} {
  const counts: [number, number] = [0, 0];
  for (const [normal, pneumonia] of perHospital) {
    counts[0] += normal;
    counts[1] += pneumonia;
  }
  return { counts, weights: classWeightsFromCounts(counts) };
}

/**
 * An epoch's order of record indices with both classes equally frequent: every image of the
 * larger class once, the smaller class repeated whole as often as it fits and topped up
 * with a random subset without replacement; then shuffled. Length 2 * max(n0, n1) (or n if
 * a class is absent). Pass it as `order` to streamBatches.
 */
export function balancedSampleOrder(records: readonly XrayRecord[], rng: Rng): number[] {
  const byClass: [number[], number[]] = [[], []];
  records.forEach((r, i) => byClass[r.label].push(i));
  const target = Math.max(byClass[0].length, byClass[1].length);
  const order: number[] = [];
  for (const indices of byClass) {
    if (indices.length === 0) continue;
    for (let k = 0; k + indices.length <= target; k += indices.length) order.push(...indices);
    const rest = target % indices.length;
    if (rest > 0) order.push(...rng.shuffle([...indices]).slice(0, rest));
  }
  return rng.shuffle(order);
}
