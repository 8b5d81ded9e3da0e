export interface Axis {
  /** Data range mapped onto the axis. */
  domain: [number, number];
  ticks: number[];
  /** Decimals needed to print the ticks without noise. */
  decimals: number;
}

/**
 * Tick positions at 1, 2 or 5 x 10^k steps, about `target` of them. Without a fixed range
 * the domain is widened to whole steps around the data; `integer` forces whole-number steps
 * (epochs, rounds).
 */
export function niceAxis(
  min: number,
  max: number,
  opts: { target?: number; fixed?: boolean; integer?: boolean } = {},
): Axis {
  const target = Math.max(2, opts.target ?? 6);
  let lo = min;
  let hi = max;
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) [lo, hi] = [0, 1];
  if (lo > hi) [lo, hi] = [hi, lo];
  if (lo === hi) {
    const pad = opts.integer ? 1 : lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  let exponent = Math.floor(Math.log10((hi - lo) / target));
  const base = 10 ** exponent;
  const raw = (hi - lo) / target / base - 1e-9; // so 0.30000000000000004 / 6 still gives 0.05
  let multiple = raw <= 1 ? 1 : raw <= 2 ? 2 : raw <= 5 ? 5 : 10;
  if (multiple === 10) {
    multiple = 1;
    exponent += 1;
  }
  let step = multiple * 10 ** exponent;
  if (opts.integer && step < 1) {
    step = 1;
    exponent = 0;
  }
  const decimals = Math.max(0, -exponent);
  const round = (x: number): number => Number(x.toFixed(decimals));
  const domain: [number, number] = opts.fixed
    ? [lo, hi]
    : [round(Math.floor(lo / step + 1e-9) * step), round(Math.ceil(hi / step - 1e-9) * step)];
  const ticks: number[] = [];
  for (let k = Math.ceil(domain[0] / step - 1e-9); k * step <= domain[1] + step * 1e-9; k++) {
    ticks.push(round(k * step));
  }
  return { domain, ticks, decimals };
}
