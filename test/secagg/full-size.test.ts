/**
 * One round at the full size of SE-ResNet-18-GN (11,260,346 float32 parameters), three
 * hospitals, one of which stops answering after uploading: the sum comes back within the
 * quantisation bound, in seconds.
 */
import { describe, expect, it } from 'vitest';
import { dequantizeSum, seededRandom, sumErrorBound } from '../../shared/secagg/index.ts';
import { runRound } from './round.ts';

const PARAMETERS = 11_260_346;

function randomUpdate(seed: string): Float32Array {
  const words = new Uint32Array(seededRandom(seed)(4 * PARAMETERS).buffer.slice(0));
  const update = new Float32Array(PARAMETERS);
  for (let i = 0; i < PARAMETERS; i++) update[i] = (words[i] / 2 ** 32 - 0.5) * 0.2;
  return update;
}

describe('secure aggregation at full model size', () => {
  it('sums three 11.3M-parameter updates within the bound', () => {
    const updates = ['a', 'b', 'c'].map(randomUpdate);
    const started = performance.now();
    const { result, config } = runRound({
      clients: 3,
      threshold: 2,
      updates,
      quantization: { clip: 0.1 },
      dropAfterUpload: [1],
    });
    const seconds = (performance.now() - started) / 1000;
    const floats = dequantizeSum(result.sum, config.quantization);
    const bound = sumErrorBound(config.quantization, 3);
    let worst = 0;
    for (let i = 0; i < PARAMETERS; i++) {
      worst = Math.max(
        worst,
        Math.abs(floats[i] - (updates[0][i] + updates[1][i] + updates[2][i])),
      );
    }
    expect(worst).toBeLessThanOrEqual(bound);
    expect(seconds).toBeLessThan(15);
  });
});
