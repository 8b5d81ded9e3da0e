/** Helpers the strategies share (Flower keeps these in strategy/aggregate.py). */
import type { WeightArray } from '../model/model-weights.ts';
import type { Rng } from '../util/random.ts';
import type {
  ClientInfo,
  ClientResult,
  ClientWeights,
  EvaluateResult,
  FitInstruction,
} from './strategy.ts';

/**
 * A round a strategy cannot aggregate as it stands (too few updates for Krum's f, ...): the
 * aggregator fails the round with this reason instead of reporting an internal error.
 */
export class AggregationRefused extends Error {
  override readonly name = 'AggregationRefused';
}

/** m = max(round(C x J), 1), never more than J. */
export function clientsPerRound(fraction: number, available: number): number {
  return Math.min(available, Math.max(Math.round(fraction * available), 1));
}

export function checkFraction(fraction: number): void {
  if (!(fraction > 0 && fraction <= 1)) {
    throw new Error(`the client fraction C must be in (0, 1], got ${fraction}`);
  }
}

/** A uniform sample of m = max(round(C x J), 1) hospitals, returned in id order. */
export function sampleClients(
  round: number,
  available: readonly ClientInfo[],
  fraction: number,
  rng: Rng,
  fitConfig: Record<string, number | string | boolean> = {},
): FitInstruction[] {
  if (available.length === 0) return [];
  const m = clientsPerRound(fraction, available.length);
  const chosen = rng.shuffle([...available]).slice(0, m);
  chosen.sort((a, b) => a.id.localeCompare(b.id));
  return chosen.map((c) => ({ clientId: c.id, config: { round, ...fitConfig } }));
}

/** Weights already in memory as a ClientWeights (the simulation, tests). */
export function inMemoryWeights(weights: readonly WeightArray[]): ClientWeights {
  const byName = new Map(weights.map((w) => [w.name, w.data]));
  return { tensor: async (name) => byName.get(name) };
}

/** One client's tensor of `ref`'s name and size; throws naming the client otherwise. */
export async function clientTensor(
  result: ClientResult,
  ref: WeightArray,
  into?: Float32Array,
): Promise<Float32Array> {
  const data = await result.weights.tensor(ref.name, into);
  if (!data || data.length !== ref.data.length) {
    throw new Error(
      `Client ${result.clientId} sent no weight ${ref.name} of ${ref.data.length} values`,
    );
  }
  return data;
}

/** Scratch arrays of the largest tensor's size, reused tensor after tensor. */
export function scratchFor(reference: readonly WeightArray[]): {
  sum: Float64Array;
  values: Float32Array;
} {
  const largest = reference.reduce((max, w) => Math.max(max, w.data.length), 0);
  return { sum: new Float64Array(largest), values: new Float32Array(largest) };
}

/**
 * The mean of the client models weighted by their sample counts n_j / n, summed in float64.
 * Tensor by tensor, one client's tensor at a time, into reused scratch arrays: besides the
 * result it holds one tensor's sum and one client tensor, whatever the number of hospitals.
 */
export async function weightedAverage(
  reference: readonly WeightArray[],
  results: readonly ClientResult[],
): Promise<WeightArray[]> {
  if (results.length === 0) throw new Error('Cannot aggregate a round with no client results');
  const total = results.reduce((sum, r) => sum + r.numSamples, 0);
  if (!(total > 0)) throw new Error('Cannot aggregate: client sample counts sum to zero');
  const scratch = scratchFor(reference);
  const out: WeightArray[] = [];
  for (const ref of reference) {
    const acc = scratch.sum.subarray(0, ref.data.length).fill(0);
    for (const result of results) {
      const data = await clientTensor(result, ref, scratch.values);
      const share = result.numSamples / total;
      for (let k = 0; k < acc.length; k++) acc[k] += share * data[k];
    }
    out.push({ name: ref.name, shape: [...ref.shape], data: Float32Array.from(acc) });
  }
  return out;
}

/**
 * Each metric's mean over the hospitals that report it, weighted by their validation sizes
 * (Flower's weighted_loss_avg, for every metric). A metric nobody reports is left out.
 */
export function weightedMetricMeans(results: readonly EvaluateResult[]): Record<string, number> {
  const sums = new Map<string, { total: number; weight: number }>();
  for (const r of results) {
    for (const [key, value] of Object.entries(r.metrics)) {
      if (!Number.isFinite(value) || !(r.numExamples > 0)) continue;
      const s = sums.get(key) ?? { total: 0, weight: 0 };
      s.total += value * r.numExamples;
      s.weight += r.numExamples;
      sums.set(key, s);
    }
  }
  return Object.fromEntries([...sums].map(([key, s]) => [key, s.total / s.weight]));
}
