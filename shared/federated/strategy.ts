import type { WeightArray } from '../model/model-weights.ts';
import type { Rng } from '../util/random.ts';

/** A hospital as the strategy sees it. */
export interface ClientInfo {
  id: string;
  numSamples: number;
}

/** What one selected hospital is asked to do in a round. */
export interface FitInstruction {
  clientId: string;
  config: Record<string, number | string | boolean>;
}

/** What a hospital sends back after local training. */
export interface ClientResult {
  clientId: string;
  numSamples: number;
  weights: readonly WeightArray[];
  metrics?: Record<string, number>;
}

/**
 * A federated-learning strategy in the spirit of Flower's Strategy: it decides which clients
 * train in a round and how their results become the next global model.
 */
export interface Strategy {
  readonly name: string;
  configureRound(round: number, available: readonly ClientInfo[], rng: Rng): FitInstruction[];
  aggregate(
    round: number,
    current: readonly WeightArray[],
    results: readonly ClientResult[],
  ): WeightArray[];
}
