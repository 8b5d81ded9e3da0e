// One metric's curves per round as inline SVG: a polyline (and dots) per series, axes with the
// round numbers and the value range. No chart library: a few lines of coordinates do it.
import { html } from './vendor/standalone.module.js';

const WIDTH = 360;
const HEIGHT = 200;
const PAD = { left: 44, right: 12, top: 14, bottom: 28 };

/**
 * series: [{ name, className, points: [[round, value], ...] }]; `rounds` fixes the x range
 * (the run's planned rounds); `unit` 'fraction' fixes y to [0, 1].
 */
export function Curve({ title, metric, series, rounds, unit }) {
  const all = series.flatMap((s) => s.points);
  const maxX = Math.max(rounds || 1, ...all.map(([x]) => x), 2);
  const maxValue = Math.max(...all.map(([, y]) => y), 0);
  const maxY = unit === 'fraction' ? 1 : niceCeiling(maxValue);
  const x = (round) => PAD.left + ((round - 1) / (maxX - 1)) * (WIDTH - PAD.left - PAD.right);
  const y = (value) => HEIGHT - PAD.bottom - (value / maxY) * (HEIGHT - PAD.top - PAD.bottom);
  const ticks = [0, maxY / 2, maxY];
  const rounds_ = Array.from({ length: maxX }, (_, i) => i + 1).filter(
    (r) => maxX <= 10 || r === 1 || r === maxX || r % Math.ceil(maxX / 5) === 0,
  );
  return html`
    <figure class="curve">
      <figcaption>${title}</figcaption>
      <svg
        viewBox="0 0 ${WIDTH} ${HEIGHT}"
        role="img"
        aria-label="${title} per round"
        data-metric=${metric}
      >
        ${ticks.map(
          (t) => html`
            <line class="grid" x1=${PAD.left} x2=${WIDTH - PAD.right} y1=${y(t)} y2=${y(t)} />
            <text class="tick" x=${PAD.left - 6} y=${y(t) + 4} text-anchor="end">
              ${formatTick(t)}
            </text>
          `,
        )}
        ${rounds_.map(
          (r) => html`
            <text class="tick" x=${x(r)} y=${HEIGHT - PAD.bottom + 16} text-anchor="middle">
              ${r}
            </text>
          `,
        )}
        <text class="axis" x=${WIDTH - PAD.right} y=${HEIGHT - 2} text-anchor="end">round</text>
        ${series.map(
          (s) => html`
            <g class="series ${s.className}">
              <polyline
                data-series=${s.name}
                points=${s.points.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(' ')}
              />
              ${s.points.map(
                ([px, py]) =>
                  html`<circle cx=${x(px)} cy=${y(py)} r="3">
                    <title>${s.name}, round ${px}: ${py.toFixed(4)}</title>
                  </circle>`,
              )}
            </g>
          `,
        )}
      </svg>
      <div class="legend">
        ${series.map((s) => html`<span class="key ${s.className}">${s.name}</span>`)}
      </div>
    </figure>
  `;
}

function niceCeiling(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value * 1.05) return step * power;
  return 10 * power;
}

function formatTick(value) {
  return value >= 10 ? value.toFixed(0) : value.toFixed(2);
}
