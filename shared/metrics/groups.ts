/**
 * Figures per image group of the Kermany file names: bacterial and viral pneumonia
 * (`personN_bacteria_M`, `personN_virus_M`) and the two NORMAL naming schemes (`IM-...` and
 * `NORMAL2-IM-...`), which come from different batches of the collection. A group that a
 * model handles worse is hidden in the pooled figures.
 */
import { basename } from 'node:path';

export type ImageGroup = 'bacterial' | 'viral' | 'normal-IM' | 'normal-NORMAL2' | 'other';

export function imageGroup(path: string, label: number): ImageGroup {
  const name = basename(path);
  if (label === 1) {
    if (/_bacteria_/i.test(name)) return 'bacterial';
    if (/_virus_/i.test(name)) return 'viral';
    return 'other';
  }
  if (/^NORMAL2-/i.test(name)) return 'normal-NORMAL2';
  if (/^IM-/i.test(name)) return 'normal-IM';
  return 'other';
}

export interface GroupFigure {
  group: ImageGroup;
  n: number;
  /** Share of the group on the correct side of the threshold: recall for pneumonia groups,
   * specificity for NORMAL groups. */
  correct: number;
  meanProbability: number;
}

/** One figure per group present, in a fixed order. */
export function groupFigures(
  paths: readonly string[],
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  threshold: number,
): GroupFigure[] {
  const order: ImageGroup[] = ['bacterial', 'viral', 'normal-IM', 'normal-NORMAL2', 'other'];
  const sums = new Map<ImageGroup, { n: number; correct: number; p: number }>();
  paths.forEach((path, i) => {
    const group = imageGroup(path, labels[i]);
    const s = sums.get(group) ?? { n: 0, correct: 0, p: 0 };
    s.n++;
    s.p += probabilities[i];
    if ((probabilities[i] >= threshold ? 1 : 0) === labels[i]) s.correct++;
    sums.set(group, s);
  });
  return order
    .filter((g) => sums.has(g))
    .map((group) => {
      const s = sums.get(group)!;
      return { group, n: s.n, correct: s.correct / s.n, meanProbability: s.p / s.n };
    });
}
