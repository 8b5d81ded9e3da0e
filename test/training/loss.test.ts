import { beforeAll, describe, expect, it } from 'vitest';
import { weightedCrossEntropy } from '../../shared/training/loss.ts';
import { tf } from '../../shared/tf/tf.ts';
import { useTestBackend } from '../helpers/tiny.ts';

beforeAll(async () => {
  await useTestBackend();
});

const WEIGHTS = [2, 0.5] as const;
const SMOOTHING = 0.05;

function lossOfLogits(logits: number[][], labels: number[]): tf.Scalar {
  return weightedCrossEntropy(
    tf.softmax(tf.tensor2d(logits)) as tf.Tensor2D,
    tf.tensor1d(labels, 'int32'),
    WEIGHTS,
    SMOOTHING,
  );
}

function logitGradient(logits: number[][], labels: number[]): number[][] {
  const gradient = tf.tidy(() =>
    tf.grad((z: tf.Tensor) =>
      weightedCrossEntropy(
        tf.softmax(z) as tf.Tensor2D,
        tf.tensor1d(labels, 'int32'),
        WEIGHTS,
        SMOOTHING,
      ),
    )(tf.tensor2d(logits)),
  );
  const values = gradient.arraySync() as number[][];
  gradient.dispose();
  return values;
}

/** d loss / d logits of softmax cross-entropy: w[label] * (softmax(z) - target) / batch. */
function analyticGradient(logits: number[][], labels: number[]): number[][] {
  return logits.map((z, i) => {
    const label = labels[i] as 0 | 1;
    const max = Math.max(...z);
    const exps = z.map((v) => Math.exp(v - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    return exps.map((e, c) => {
      const target = (c === label ? 1 - SMOOTHING : 0) + SMOOTHING / 2;
      return (WEIGHTS[label] * (e / sum - target)) / logits.length;
    });
  });
}

describe('weightedCrossEntropy', () => {
  it('is the class-weighted, label-smoothed cross-entropy with log floored at 1e-7', () => {
    const logits = [
      [0.3, -0.2],
      [40, -40],
    ];
    const labels = [1, 0];
    const loss = lossOfLogits(logits, labels);
    const p0 = 1 / (1 + Math.exp(-0.5));
    const first = -(0.025 * Math.log(p0) + 0.975 * Math.log(1 - p0)) * WEIGHTS[1];
    // Second sample: confidently right; its smoothed 0.025 on class 1 meets the floor.
    const second = -(0.975 * Math.log(1) + 0.025 * Math.log(1e-7)) * WEIGHTS[0];
    expect(loss.dataSync()[0]).toBeCloseTo((first + second) / 2, 4);
    loss.dispose();
  });

  it('gives saturated wrong predictions the softmax gradient instead of none', () => {
    // Gap 60: p of the true class is about 1e-26, far below the 1e-7 floor of the log. A plain
    // clip would return a zero gradient here and the network would never leave this state.
    const logits = [
      [-30, 30],
      [0.4, -0.1],
    ];
    const labels = [0, 1];
    const got = logitGradient(logits, labels);
    const want = analyticGradient(logits, labels);
    for (let i = 0; i < want.length; i++) {
      for (let c = 0; c < 2; c++) expect(got[i]![c]).toBeCloseTo(want[i]![c]!, 5);
    }
    expect(Math.abs(got[0]![0]!)).toBeGreaterThan(0.9);
  });

  it('frees its tensors', () => {
    const before = tf.memory().numTensors;
    logitGradient([[-30, 30]], [0]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
