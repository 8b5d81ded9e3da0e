/**
 * The one interface every aggregation algorithm implements, shaped like Flower's Strategy: a
 * training half (configure the round's fit, aggregate the fit results) and an evaluation half
 * (configure the evaluation of the new model, aggregate the answers). Strategies hold no state
 * between rounds: what they need of the past (FedAvgM: the previous round's input model)
 * comes through the RoundContext, so the aggregator can restart mid-run and the simulation
 * and the aggregator give the same model. Both call it; neither branches on a strategy's name.
 */
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

/**
 * A hospital's model, read one tensor at a time: the aggregator reads it from the update's
 * file on disk, so a round holds one model and a tensor per update, whatever J is.
 */
export interface ClientWeights {
  /**
   * The tensor's values; undefined when the model has no tensor by that name. With `into`
   * (long enough), a source may write them there and answer a view of it, valid until `into`
   * is reused: the average then reads J updates without allocating J models.
   */
  tensor(name: string, into?: Float32Array): Promise<Float32Array | undefined>;
}

/** What a hospital sends back after local training. */
export interface ClientResult {
  clientId: string;
  numSamples: number;
  weights: ClientWeights;
  metrics?: Record<string, number>;
}

/** What a round's aggregation may read of the run besides the round's results. */
export interface RoundContext {
  /** 1-based. */
  round: number;
  /** w_{t-1}: the round's input model. */
  current: readonly WeightArray[];
  /**
   * w_{t-2}: the previous round's input model, read only when a strategy asks; undefined in
   * the first round or when the run no longer has it.
   */
  previousInput(): Promise<readonly WeightArray[] | undefined>;
}

/** A result the strategy left out of the average, and why. */
export interface Rejection {
  clientId: string;
  reason: string;
  details: Record<string, number | string | null>;
}

export interface FitAggregate {
  /** The next global model; null when no result was left to aggregate. */
  weights: WeightArray[] | null;
  rejected: Rejection[];
  /** Figures about the round the strategy reports (stored with the round's metrics). */
  metrics: Record<string, unknown>;
}

/** One hospital's scores of a candidate model on its own validation images. */
export interface EvaluateResult {
  clientId: string;
  numExamples: number;
  metrics: Record<string, number>;
}

export interface Strategy {
  readonly name: string;
  /** True when aggregateFit reads ctx.previousInput (a resumed simulation must have it). */
  readonly usesPreviousInput: boolean;
  configureFit(round: number, available: readonly ClientInfo[], rng: Rng): FitInstruction[];
  aggregateFit(ctx: RoundContext, results: readonly ClientResult[]): Promise<FitAggregate>;
  /** Which of the round's contributors score the new model (ids). */
  configureEvaluate(round: number, contributors: readonly ClientInfo[]): string[];
  /** The federation's figure for each metric, from the hospitals' answers. */
  aggregateEvaluate(round: number, results: readonly EvaluateResult[]): Record<string, number>;
}
