import type { ScheduleName } from './settings.ts';

export interface ScheduleSpec {
  kind: ScheduleName;
  baseRate: number;
  /** Length of the whole schedule in epochs (all rounds x local epochs when federated). */
  totalEpochs: number;
  warmupEpochs: number;
}

/**
 * Learning rate at a fractional epoch position of the whole schedule. Cosine decays to 1% of
 * the base rate; step divides by 10 at 50% and 75%; warm-up ramps linearly from 10%.
 */
export function learningRateAt(spec: ScheduleSpec, epoch: number): number {
  const { baseRate, totalEpochs, warmupEpochs } = spec;
  if (warmupEpochs > 0 && epoch < warmupEpochs) {
    return baseRate * (0.1 + (0.9 * epoch) / warmupEpochs);
  }
  const span = Math.max(totalEpochs - warmupEpochs, 1e-9);
  const progress = Math.min(Math.max((epoch - warmupEpochs) / span, 0), 1);
  switch (spec.kind) {
    case 'constant':
      return baseRate;
    case 'cosine':
      return baseRate * (0.01 + 0.99 * 0.5 * (1 + Math.cos(Math.PI * progress)));
    case 'step':
      return baseRate * (progress < 0.5 ? 1 : progress < 0.75 ? 0.1 : 0.01);
  }
}
