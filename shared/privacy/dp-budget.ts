/**
 * A DP-FedAvg run's budget in rounds, shared by the aggregator and `fedxray simulate`: epsilon
 * after r rounds of the sampled Gaussian mechanism with q = the client fraction (Poisson
 * sampling assumed; hospitals are in fact drawn m at a time without replacement, docs/privacy.md).
 */
import { dpEpsilon } from './rdp-accountant.ts';

export const PRIVACY_ACCOUNTANT = 'rdp-sampled-gaussian';
export const PRIVACY_CONVERSION = 'balle-2020';
export const HOSPITAL_LEVEL_GUARANTEE =
  '(epsilon, delta)-DP at the hospital level (neighbouring federations differ by one whole hospital), DP-FedAvg with clipped equal-weight updates and Gaussian noise; individual patients inside a hospital are not protected beyond that';

export interface DpBudget {
  /** q: the fraction of the hospitals sampled per round. */
  sampleRate: number;
  noiseMultiplier: number;
  delta: number;
}

export function epsilonAfterRounds(budget: DpBudget, rounds: number): number {
  return dpEpsilon({ ...budget, steps: rounds }).epsilon;
}
