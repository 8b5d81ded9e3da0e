/** Two-sided 97.5% standard normal quantile. */
export const Z_95 = 1.959963984540054;

/**
 * Wilson score interval for a binomial proportion successes/trials. Unlike the normal
 * approximation it stays inside [0, 1] and behaves at 0/n and n/n, which matters on small
 * federated client test sets. Returns [0, 1] when trials is 0.
 */
export function wilsonInterval(successes: number, trials: number, z = Z_95): [number, number] {
  if (!(trials > 0)) return [0, 1];
  if (successes < 0 || successes > trials) {
    throw new RangeError(`successes ${successes} outside [0, ${trials}]`);
  }
  const p = successes / trials;
  const z2 = z * z;
  const denominator = 1 + z2 / trials;
  const centre = (p + z2 / (2 * trials)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials))) / denominator;
  // Clamp away rounding noise at the exact ends (0/n must give a lower bound of exactly 0).
  const lower = successes === 0 ? 0 : Math.max(0, centre - half);
  const upper = successes === trials ? 1 : Math.min(1, centre + half);
  return [lower, upper];
}
