/**
 * From models to the secure sum and back: three hospitals' trained models of two tensors,
 * their updates masked and summed, and the next model the round's model plus the mean
 * update, within the quantisation bound divided by the number of hospitals.
 */
import { describe, expect, it } from 'vitest';
import {
  applyMeanUpdate,
  dequantizeSum,
  sumErrorBound,
  updateChunks,
  updateLength,
} from '../../shared/secagg/index.ts';
import type { NamedWeights } from '../../shared/weights/types.ts';
import { createRng } from '../../shared/util/random.ts';
import { runRound } from './round.ts';

const rng = createRng(3);
const tensor = (name: string, shape: number[], around: number): NamedWeights => ({
  name,
  shape,
  data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () =>
    rng.uniform(around - 0.05, around + 0.05),
  ),
});

describe('model updates under secure aggregation', () => {
  it('gives the FedAvg model (equal weights) within the bound', () => {
    const global = [tensor('conv/kernel', [3, 3, 4, 8], 0), tensor('dense/bias', [2], 1)];
    const trained = [0, 1, 2].map(() => [
      tensor('conv/kernel', [3, 3, 4, 8], 0),
      tensor('dense/bias', [2], 1),
    ]);
    const length = updateLength(global);
    const deltas = trained.map((model) => {
      const flat = new Float32Array(length);
      let at = 0;
      for (const chunk of updateChunks(model, global)) {
        flat.set(chunk, at);
        at += chunk.length;
      }
      return flat;
    });
    const { result, config } = runRound({
      clients: 3,
      threshold: 2,
      updates: deltas,
      quantization: { clip: 0.2 },
    });
    const next = applyMeanUpdate(global, dequantizeSum(result.sum, config.quantization), 3);
    expect(next.map((t) => [t.name, t.shape])).toEqual(global.map((t) => [t.name, t.shape]));
    const bound = sumErrorBound(config.quantization, 3) / 3;
    next.forEach((t, i) => {
      t.data.forEach((value, j) => {
        const mean = (trained[0][i].data[j] + trained[1][i].data[j] + trained[2][i].data[j]) / 3;
        // float32 storage of the result adds its own rounding.
        expect(Math.abs(value - mean)).toBeLessThanOrEqual(bound + 1e-7);
      });
    });
  });

  it('refuses models of different layouts', () => {
    const a = [tensor('x', [4], 0)];
    const b = [tensor('y', [4], 0)];
    expect(() => [...updateChunks(a, b)]).toThrow(/tensor 0 is x \(4\) against y \(4\)/);
    expect(() => applyMeanUpdate(a, new Float64Array(3), 1)).toThrow(/a sum of 3/);
  });
});
