/**
 * The glue between models and the secure sum: a hospital masks its update, the change from
 * the round's model, tensor by tensor in the model's order (optionally scaled, e.g. by
 * n_j / N for FedAvg weights); the aggregator adds the unmasked sum over a divisor (|U3|, or
 * 1 when the updates were pre-weighted) to the round's model.
 */
import type { NamedWeights } from '../weights/types.ts';
import { SecAggError } from './errors.ts';

export function updateLength(model: readonly NamedWeights[]): number {
  return model.reduce((sum, tensor) => sum + tensor.data.length, 0);
}

function checkSameLayout(a: readonly NamedWeights[], b: readonly NamedWeights[]): void {
  if (a.length !== b.length) {
    throw new SecAggError('length-mismatch', `${a.length} tensors against ${b.length}`);
  }
  a.forEach((tensor, i) => {
    if (tensor.name !== b[i].name || tensor.data.length !== b[i].data.length) {
      throw new SecAggError(
        'length-mismatch',
        `tensor ${i} is ${tensor.name} (${tensor.data.length}) against ${b[i].name} (${b[i].data.length})`,
      );
    }
  });
}

/** scale * (trained - global), one chunk per tensor, for quantize / SecAggClient.maskedInput. */
export function* updateChunks(
  trained: readonly NamedWeights[],
  global: readonly NamedWeights[],
  scale = 1,
): Generator<Float32Array> {
  checkSameLayout(trained, global);
  for (const [i, tensor] of trained.entries()) {
    const base = global[i].data;
    const delta = new Float32Array(tensor.data.length);
    for (let j = 0; j < delta.length; j++) delta[j] = scale * (tensor.data[j] - base[j]);
    yield delta;
  }
}

/** The next model: global + sum / divisor, with the global model's names and shapes. */
export function applyMeanUpdate(
  global: readonly NamedWeights[],
  sum: Float64Array,
  divisor: number,
): NamedWeights[] {
  if (sum.length !== updateLength(global)) {
    throw new SecAggError(
      'length-mismatch',
      `a sum of ${sum.length} for a model of ${updateLength(global)}`,
    );
  }
  if (!(divisor > 0))
    throw new SecAggError('bad-config', `divisor must be positive, got ${divisor}`);
  let at = 0;
  return global.map((tensor) => {
    const data = new Float32Array(tensor.data.length);
    for (let j = 0; j < data.length; j++) data[j] = tensor.data[j] + sum[at + j] / divisor;
    at += data.length;
    return { name: tensor.name, shape: [...tensor.shape], data };
  });
}
