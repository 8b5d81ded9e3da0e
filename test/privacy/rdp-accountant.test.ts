/**
 * The RDP accountant against values published by TensorFlow Privacy and Opacus. Each number
 * names the repository, the file, the commit where it can be read and the RDP -> (eps, delta)
 * conversion it was computed with: "improved" is Balle et al. 2020 Thm 21 (TF Privacy since
 * commit be8175b, Dec 2020; Opacus), "standard" is Mironov 2017 Prop. 3 (TF Privacy before).
 */
import { describe, expect, it } from 'vitest';
import {
  computeRdp,
  dpEpsilon,
  epsilonFromRdp,
  sampledGaussianRdp,
} from '../../shared/privacy/rdp-accountant.ts';
import { logErfc } from '../../shared/privacy/log-erfc.ts';

/** compute_dp_sgd_privacy_lib.py's orders (tensorflow/privacy, commit 943ef91). */
const DP_SGD_ORDERS = [
  1.25,
  1.5,
  1.75,
  2,
  2.25,
  2.5,
  3,
  3.5,
  4,
  4.5,
  ...Array.from({ length: 59 }, (_, i) => 5 + i),
  128,
  256,
  512,
];

/** compute_dp_sgd_privacy(n, batch, z, epochs, delta): q = batch / n, steps = ceil(epochs n / batch). */
function dpSgd(
  n: number,
  batch: number,
  z: number,
  epochs: number,
  delta: number,
  conversion: 'improved' | 'standard',
) {
  return dpEpsilon({
    sampleRate: batch / n,
    noiseMultiplier: z,
    steps: Math.ceil((epochs * n) / batch),
    delta,
    orders: DP_SGD_ORDERS,
    conversion,
  });
}

describe('log erfc', () => {
  it('matches erfc where it is known, and stays finite where erfc underflows', () => {
    // erfc(1), erfc(3), erfc(5): Abramowitz and Stegun Table 7.1 / any double-precision erfc.
    expect(logErfc(1)).toBeCloseTo(Math.log(0.157299207050285), 13);
    expect(logErfc(3)).toBeCloseTo(Math.log(2.209049699858544e-5), 12);
    expect(logErfc(5)).toBeCloseTo(Math.log(1.5374597944280349e-12), 12);
    expect(logErfc(0)).toBeCloseTo(0, 15);
    expect(logErfc(-40)).toBeCloseTo(Math.LN2, 15);
    // The tail's leading terms: log erfc(x) ~ -x^2 - log(x sqrt(pi)) - 1/(2x^2).
    expect(logErfc(1000)).toBeCloseTo(-1e6 - Math.log(1000 * Math.sqrt(Math.PI)) - 5e-7, 6);
  });
});

describe('RDP of the sampled Gaussian mechanism', () => {
  it('equals the plain Gaussian alpha / (2 sigma^2) without sampling (q = 1)', () => {
    for (const [sigma, alpha] of [
      [10, 20],
      [1, 2],
      [0.7, 1.5],
      [3, 63],
    ])
      expect(sampledGaussianRdp(1, sigma, alpha)).toBeCloseTo(alpha / (2 * sigma * sigma), 14);
    // tensorflow/privacy rdp_accountant_test.py test_compute_rdp_no_sampling: compute_rdp(1, 10, 1, 20) == 0.1.
    expect(computeRdp(1, 10, 1, [20])[0]).toBeCloseTo(0.1, 15);
    // test_compute_rdp_no_data: q = 0 costs nothing.
    expect(computeRdp(0, 10, 1, [20])[0]).toBe(0);
  });

  it("matches TF Privacy's compute_rdp values (rdp_accountant_test.py, commit 385fefc)", () => {
    // test_compute_rdp_scalar: compute_rdp(0.1, 2, 10, 5) = 0.07737, assertAlmostEqual places=5.
    expect(computeRdp(0.1, 2, 10, [5])[0]).toBeCloseTo(0.07737, 5);
    // test_compute_rdp_sequence: compute_rdp(0.01, 2.5, 50, [1.5, 2.5, 5, 50, 100, inf]),
    // assertSequenceAlmostEqual delta=1e-5. 1.5 and 2.5 go through the fractional-order series.
    const expected = [0.00065, 0.001085, 0.00218075, 0.023846, 167.416307, Infinity];
    const rdp = computeRdp(0.01, 2.5, 50, [1.5, 2.5, 5, 50, 100, Infinity]);
    for (let i = 0; i < 5; i++) expect(Math.abs(rdp[i] - expected[i])).toBeLessThan(1e-5);
    expect(rdp[5]).toBe(Infinity);
  });
});

describe('RDP -> (epsilon, delta)', () => {
  it("matches TF Privacy's get_privacy_spent tests (rdp_accountant_test.py, commit 385fefc; improved conversion)", () => {
    // test_get_privacy_spent_check_target_delta: orders 2..32, constant RDP 1.1 (pure DP),
    // delta 1e-5 -> eps 1.32783806176 at order 32 (assertAlmostEqual: 7 places).
    const orders = Array.from({ length: 31 }, (_, i) => i + 2);
    const spent = epsilonFromRdp(
      orders,
      orders.map(() => 1.1),
      1e-5,
    );
    expect(spent.epsilon).toBeCloseTo(1.32783806176, 7);
    expect(spent.order).toBe(32);
    // Same test, second part: the Gaussian with sigma 4.530877117, q = 1, orders 1.000..99.999
    // by 0.001 is exactly (1, 1e-6)-DP.
    const fine = Array.from({ length: 99_000 }, (_, i) => 0.001 * (i + 1000)).filter((a) => a > 1);
    expect(epsilonFromRdp(fine, computeRdp(1, 4.530877117, 1, fine), 1e-6).epsilon).toBeCloseTo(
      1,
      7,
    );
  });

  it("matches TF Privacy's pre-2021 values with the standard conversion (rdp_accountant_test.py before commit be8175b)", () => {
    // test_get_privacy_spent_check_target_delta (removed by be8175b): compute_rdp(0.01, 4,
    // 10000, orders 2..32), delta 1e-5 -> eps 1.258575 at order 20 (places=5).
    const orders = Array.from({ length: 31 }, (_, i) => i + 2);
    const spent = epsilonFromRdp(orders, computeRdp(0.01, 4, 10000, orders), 1e-5, 'standard');
    expect(spent.epsilon).toBeCloseTo(1.258575, 5);
    expect(spent.order).toBe(20);
    // test_check_composition (before be8175b): q 1e-4, z 0.4, 40000 steps then q 0.1, z 2,
    // 100 steps, delta 1e-5 -> eps 8.509656 at order 2.5 (places=5). After be8175b the test
    // only asserts the improved eps <= 8.509656.
    const co = [1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 64, 256];
    const r1 = computeRdp(1e-4, 0.4, 40000, co);
    const r2 = computeRdp(0.1, 2, 100, co);
    const sum = r1.map((v, i) => v + r2[i]);
    const standard = epsilonFromRdp(co, sum, 1e-5, 'standard');
    expect(standard.epsilon).toBeCloseTo(8.509656, 5);
    expect(standard.order).toBe(2.5);
    expect(epsilonFromRdp(co, sum, 1e-5).epsilon).toBeLessThanOrEqual(8.509656);
  });

  it("matches TF Privacy's compute_dp_sgd_privacy tests under both conversions (compute_dp_sgd_privacy_test.py)", () => {
    // improved: commit 943ef91 (values since be8175b); assertAlmostEqual (7 places), orders equal.
    // standard: the same test before be8175b (its values, 9 significant digits published).
    const cases = [
      {
        args: [60000, 150, 1.3, 15, 1e-5],
        improved: 0.7242234026109595,
        standard: 0.941870567,
        order: 19,
      },
      {
        args: [100000, 100, 1.0, 30, 1e-7],
        improved: 1.4154988495444845,
        standard: 1.70928734,
        order: 13,
      },
      {
        args: [1e8, 1024, 0.1, 10, 1e-7],
        improved: 5907982.31138195,
        standard: 5907984.81339406,
        order: 1.25,
      },
    ] as const;
    for (const c of cases) {
      const [n, b, z, e, d] = c.args;
      const improved = dpSgd(n, b, z, e, d, 'improved');
      const standard = dpSgd(n, b, z, e, d, 'standard');
      expect(improved.order).toBe(c.order);
      expect(standard.order).toBe(c.order);
      // Relative: the third case is 5.9e6, where 7 decimal places exceed double precision.
      expect(Math.abs(improved.epsilon - c.improved) / c.improved).toBeLessThan(1e-9);
      expect(Math.abs(standard.epsilon - c.standard) / c.standard).toBeLessThan(1e-8);
    }
  });

  it("gives the README example of TF Privacy's compute_dp_sgd_privacy.py (standard conversion) and Opacus's test (improved)", () => {
    // tensorflow/privacy compute_dp_sgd_privacy.py docstring (commit a749ce4, pre-be8175b
    // accountant): N=60000, batch 256, noise 1.12, 60 epochs, delta 1e-5 "satisfies
    // (2.92, 1e-5)-DP" (rounded to 3 digits). The improved conversion gives about 2.52.
    expect(dpSgd(60000, 256, 1.12, 60, 1e-5, 'standard').epsilon).toBeCloseTo(2.92, 2);
    expect(dpSgd(60000, 256, 1.12, 60, 1e-5, 'improved').epsilon).toBeLessThan(2.92);
    // pytorch/opacus opacus/tests/accountants_test.py test_rdp_accountant: z 1.5, q 0.04,
    // steps int(90 / 0.04) = 2250, delta 1e-5, DEFAULT_ALPHAS (ours) -> 7.32911117143
    // (assertAlmostEqual, 7 places). Opacus's get_privacy_spent is the improved conversion.
    const opacus = dpEpsilon({ sampleRate: 0.04, noiseMultiplier: 1.5, steps: 2250, delta: 1e-5 });
    expect(opacus.epsilon).toBeCloseTo(7.32911117143, 7);
  });

  it('grows with the rounds, is 0 before any, and never exceeds the standard conversion', () => {
    let previous = 0;
    expect(dpEpsilon({ sampleRate: 1, noiseMultiplier: 2, steps: 0, delta: 1e-5 }).epsilon).toBe(0);
    for (let t = 1; t <= 20; t++) {
      const eps = dpEpsilon({ sampleRate: 1, noiseMultiplier: 2, steps: t, delta: 1e-5 }).epsilon;
      const standard = dpEpsilon({
        sampleRate: 1,
        noiseMultiplier: 2,
        steps: t,
        delta: 1e-5,
        conversion: 'standard',
      }).epsilon;
      expect(eps).toBeGreaterThan(previous);
      expect(eps).toBeLessThanOrEqual(standard);
      previous = eps;
    }
  });
});
