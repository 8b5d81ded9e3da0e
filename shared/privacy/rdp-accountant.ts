/**
 * Renyi-DP accountant of the sampled Gaussian mechanism (Mironov, Talwar, Zhang 2019, "Renyi
 * Differential Privacy of the Sampled Gaussian Mechanism", Section 3.3), the method of
 * TensorFlow Privacy's rdp_accountant.py and Opacus's RDP accountant: log A_alpha by the
 * binomial expansion for integer orders and by the two-sided erfc series for fractional ones,
 * all in log space; composition adds RDP order by order; the conversion to (epsilon, delta) is
 * the improved one (Balle et al. 2020, Theorem 21; Canonne, Kamath, Steinke 2020, Prop. 12)
 * that both libraries use today, with Mironov's 2017 standard one kept for comparison.
 * Poisson sampling with rate q is assumed, as in both libraries.
 */
import { logErfc } from './log-erfc.ts';

/** TF Privacy's and Opacus's default orders: 1.1, 1.2, ..., 10.9, then 12, 13, ..., 63. */
export const DEFAULT_ORDERS: readonly number[] = [
  ...Array.from({ length: 99 }, (_, x) => 1 + (x + 1) / 10),
  ...Array.from({ length: 52 }, (_, x) => 12 + x),
];

export type Conversion = 'improved' | 'standard';

function logAdd(x: number, y: number): number {
  const a = Math.min(x, y);
  const b = Math.max(x, y);
  if (a === -Infinity) return b;
  return Math.log1p(Math.exp(a - b)) + b;
}

function logSub(x: number, y: number): number {
  if (x < y) throw new RangeError('log-space subtraction with a negative result');
  if (y === -Infinity) return x;
  if (x === y) return -Infinity;
  const d = x - y;
  // exp(d) overflows past ~709; then exp(x) - exp(y) is exp(x) to double precision.
  return d > 700 ? x : Math.log(Math.expm1(d)) + y;
}

/** log C(n, k) for integers, as a running sum of logs (exact enough for n up to thousands). */
function logBinomialInt(n: number, k: number): number {
  let s = 0;
  const m = Math.min(k, n - k);
  for (let i = 1; i <= m; i++) s += Math.log(n - m + i) - Math.log(i);
  return s;
}

/** log A_alpha for an integer alpha >= 2 and 0 < q < 1: sum_i C(a,i) q^i (1-q)^(a-i) e^((i^2-i)/(2 s^2)). */
function logAInt(q: number, sigma: number, alpha: number): number {
  let logA = -Infinity;
  const lq = Math.log(q);
  const l1q = Math.log1p(-q);
  for (let i = 0; i <= alpha; i++) {
    const term = logBinomialInt(alpha, i) + i * lq + (alpha - i) * l1q;
    logA = logAdd(logA, term + (i * i - i) / (2 * sigma * sigma));
  }
  return logA;
}

/** log A_alpha for a fractional alpha > 1: the integrals below and above z0, summed term by term. */
function logAFrac(q: number, sigma: number, alpha: number): number {
  let logA0 = -Infinity;
  let logA1 = -Infinity;
  const lq = Math.log(q);
  const l1q = Math.log1p(-q);
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  const s2 = Math.SQRT2 * sigma;
  // C(alpha, i) by its recurrence: its sign alternates once i > alpha.
  let coef = 1;
  for (let i = 0; i < 100_000; i++) {
    if (i > 0) coef *= (alpha - i + 1) / i;
    const logCoef = Math.log(Math.abs(coef));
    const j = alpha - i;
    const logT0 = logCoef + i * lq + j * l1q;
    const logT1 = logCoef + j * lq + i * l1q;
    const logE0 = Math.log(0.5) + logErfc((i - z0) / s2);
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / s2);
    const logS0 = logT0 + (i * i - i) / (2 * sigma * sigma) + logE0;
    const logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1;
    if (coef > 0) {
      logA0 = logAdd(logA0, logS0);
      logA1 = logAdd(logA1, logS1);
    } else {
      logA0 = logSub(logA0, logS0);
      logA1 = logSub(logA1, logS1);
    }
    if (Math.max(logS0, logS1) < -30) break;
  }
  return logAdd(logA0, logA1);
}

/** RDP at order alpha of one step of the sampled Gaussian mechanism (rate q, noise multiplier sigma). */
export function sampledGaussianRdp(q: number, sigma: number, alpha: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`the sampling rate q must be in [0, 1], got ${q}`);
  if (!(sigma >= 0)) throw new RangeError(`the noise multiplier must be >= 0, got ${sigma}`);
  if (!(alpha > 1)) throw new RangeError(`an RDP order must be above 1, got ${alpha}`);
  if (q === 0) return 0;
  if (sigma === 0) return Infinity;
  if (q === 1) return alpha / (2 * sigma * sigma);
  if (!Number.isFinite(alpha)) return Infinity;
  const logA = Number.isInteger(alpha) ? logAInt(q, sigma, alpha) : logAFrac(q, sigma, alpha);
  return logA / (alpha - 1);
}

/** RDP of `steps` compositions at each order (TF Privacy's compute_rdp). */
export function computeRdp(
  q: number,
  sigma: number,
  steps: number,
  orders: readonly number[] = DEFAULT_ORDERS,
): number[] {
  return orders.map((a) => sampledGaussianRdp(q, sigma, a) * steps);
}

export interface PrivacySpent {
  epsilon: number;
  /** The order the minimum came from. */
  order: number;
}

/**
 * The smallest epsilon over the orders at which the composed mechanism is (epsilon, delta)-DP.
 * improved: eps = rdp + log((a-1)/a) - (log delta + log a)/(a-1) (Balle et al. 2020 Thm 21, as
 * TF Privacy since Dec 2020 and Opacus), with TF Privacy's two guards (eps 0 when delta^2 +
 * expm1(-rdp) >= 0; orders at or below 1.01 skipped). standard: eps = rdp + log(1/delta)/(a-1)
 * (Mironov 2017 Prop. 3), always larger or equal.
 */
export function epsilonFromRdp(
  orders: readonly number[],
  rdp: readonly number[],
  delta: number,
  conversion: Conversion = 'improved',
): PrivacySpent {
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1), got ${delta}`);
  if (orders.length !== rdp.length || orders.length === 0)
    throw new RangeError('orders and rdp must be non-empty and of the same length');
  let best: PrivacySpent = { epsilon: Infinity, order: orders[0] };
  for (let k = 0; k < orders.length; k++) {
    const a = orders[k];
    const r = rdp[k];
    if (!(a > 1) || !(r >= 0)) throw new RangeError(`bad order ${a} or RDP ${r}`);
    let eps: number;
    if (conversion === 'standard') eps = r - Math.log(delta) / (a - 1);
    else if (delta * delta + Math.expm1(-r) >= 0) eps = 0;
    else if (a > 1.01) eps = r + Math.log1p(-1 / a) - Math.log(delta * a) / (a - 1);
    else eps = Infinity;
    if (eps < best.epsilon) best = { epsilon: eps, order: a };
  }
  return { epsilon: Math.max(0, best.epsilon), order: best.order };
}

/** Epsilon at delta after `steps` rounds of the sampled Gaussian mechanism. */
export function dpEpsilon(params: {
  sampleRate: number;
  noiseMultiplier: number;
  steps: number;
  delta: number;
  orders?: readonly number[];
  conversion?: Conversion;
}): PrivacySpent {
  const orders = params.orders ?? DEFAULT_ORDERS;
  if (params.steps === 0) return { epsilon: 0, order: orders[0] };
  const rdp = computeRdp(params.sampleRate, params.noiseMultiplier, params.steps, orders);
  return epsilonFromRdp(orders, rdp, params.delta, params.conversion);
}
