import { niceAxis } from './ticks.ts';

export interface LineSeries {
  name: string;
  /** [x, y] pairs; a non-finite coordinate breaks the line there. */
  points: [number, number][];
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  /** Fixed y range; points outside it are clipped. Default: fitted to the data. */
  yRange?: [number, number];
  /** Pixels; default 800 x 500. */
  width?: number;
  height?: number;
}

export const DEFAULT_CHART_WIDTH = 800;
export const DEFAULT_CHART_HEIGHT = 500;
const COLOURS = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
];
/** Clip a little outside the frame so markers on the domain edge stay whole. */
const CLIP_PAD = 5;
const FONT = 'DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif';

/**
 * SVG for a line chart: title, axes with labelled ticks, grid, one coloured polyline with
 * markers per series and a legend on the right. Empty series, single points and NaNs are
 * fine (NaN splits a line; with no data at all the chart says so).
 */
export function buildLineChartSvg(spec: LineChartSpec): string {
  const width = spec.width ?? DEFAULT_CHART_WIDTH;
  const height = spec.height ?? DEFAULT_CHART_HEIGHT;
  const finite = spec.series.flatMap((s) =>
    s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)),
  );
  const xs = finite.map(([x]) => x);
  const ys = finite.map(([, y]) => y);
  const hasData = finite.length > 0;

  const legendWidth =
    spec.series.length > 0
      ? 48 + 7.5 * Math.max(...spec.series.map((s) => s.name.length + (hasFinitePoint(s) ? 0 : 10)))
      : 0;
  const margin = { top: 48, right: 24 + legendWidth, bottom: 60, left: 76 };
  const plotW = Math.max(10, width - margin.left - margin.right);
  const plotH = Math.max(10, height - margin.top - margin.bottom);

  const xAxis = niceAxis(hasData ? Math.min(...xs) : 0, hasData ? Math.max(...xs) : 1, {
    target: Math.max(2, Math.round(plotW / 90)),
    integer: hasData && xs.every(Number.isInteger),
  });
  const yAxis = spec.yRange
    ? niceAxis(spec.yRange[0], spec.yRange[1], { target: Math.round(plotH / 60), fixed: true })
    : niceAxis(hasData ? Math.min(...ys) : 0, hasData ? Math.max(...ys) : 1, {
        target: Math.max(2, Math.round(plotH / 60)),
      });
  const sx = (x: number): number =>
    margin.left + ((x - xAxis.domain[0]) / (xAxis.domain[1] - xAxis.domain[0])) * plotW;
  const sy = (y: number): number =>
    margin.top + plotH - ((y - yAxis.domain[0]) / (yAxis.domain[1] - yAxis.domain[0])) * plotH;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<defs><clipPath id="plot"><rect x="${margin.left - CLIP_PAD}" y="${margin.top - CLIP_PAD}" width="${plotW + 2 * CLIP_PAD}" height="${plotH + 2 * CLIP_PAD}"/></clipPath></defs>`,
    text(width / 2, 30, spec.title, { size: 18, anchor: 'middle', weight: 'bold' }),
  );

  for (const t of xAxis.ticks) {
    const x = n(sx(t));
    out.push(
      `<line x1="${x}" y1="${margin.top}" x2="${x}" y2="${margin.top + plotH}" stroke="#e4e4e4"/>`,
      `<line x1="${x}" y1="${margin.top + plotH}" x2="${x}" y2="${margin.top + plotH + 5}" stroke="#333"/>`,
      text(sx(t), margin.top + plotH + 20, t.toFixed(xAxis.decimals), {
        size: 12,
        anchor: 'middle',
      }),
    );
  }
  for (const t of yAxis.ticks) {
    const y = n(sy(t));
    out.push(
      `<line x1="${margin.left}" y1="${y}" x2="${margin.left + plotW}" y2="${y}" stroke="#e4e4e4"/>`,
      `<line x1="${margin.left - 5}" y1="${y}" x2="${margin.left}" y2="${y}" stroke="#333"/>`,
      text(margin.left - 9, sy(t) + 4, t.toFixed(yAxis.decimals), { size: 12, anchor: 'end' }),
    );
  }
  out.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    text(margin.left + plotW / 2, height - 16, spec.xLabel, { size: 14, anchor: 'middle' }),
    `<g transform="translate(20 ${n(margin.top + plotH / 2)}) rotate(-90)">${text(0, 0, spec.yLabel, { size: 14, anchor: 'middle' })}</g>`,
  );
  if (!hasData) {
    out.push(
      text(margin.left + plotW / 2, margin.top + plotH / 2, 'no data', {
        size: 16,
        anchor: 'middle',
        fill: '#888',
      }),
    );
  }

  out.push('<g clip-path="url(#plot)">');
  spec.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    for (const segment of segments(s.points)) {
      if (segment.length > 1) {
        const coords = segment.map(([x, y]) => `${n(sx(x))},${n(sy(y))}`).join(' ');
        out.push(
          `<polyline points="${coords}" fill="none" stroke="${colour}" stroke-width="2.2" stroke-linejoin="round"/>`,
        );
      }
    }
    const radius = s.points.length > 80 ? 2 : 3.5;
    for (const [x, y] of s.points) {
      if (Number.isFinite(x) && Number.isFinite(y)) {
        out.push(
          `<circle cx="${n(sx(x))}" cy="${n(sy(y))}" r="${radius}" fill="${colour}" stroke="#ffffff" stroke-width="1"/>`,
        );
      }
    }
  });
  out.push('</g>');

  spec.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const x = margin.left + plotW + 16;
    const y = margin.top + 12 + i * 22;
    out.push(
      `<line x1="${x}" y1="${y}" x2="${x + 24}" y2="${y}" stroke="${colour}" stroke-width="2.2"/>`,
      `<circle cx="${x + 12}" cy="${y}" r="3.5" fill="${colour}"/>`,
      text(x + 32, y + 4, hasFinitePoint(s) ? s.name : `${s.name} (no data)`, {
        size: 12,
        anchor: 'start',
      }),
    );
  });
  out.push('</svg>');
  return out.join('\n');
}

function hasFinitePoint(s: LineSeries): boolean {
  return s.points.some(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
}

/** Runs of consecutive finite points. */
function segments(points: [number, number][]): [number, number][][] {
  const runs: [number, number][][] = [];
  let current: [number, number][] = [];
  for (const p of points) {
    if (Number.isFinite(p[0]) && Number.isFinite(p[1])) current.push(p);
    else if (current.length > 0) {
      runs.push(current);
      current = [];
    }
  }
  if (current.length > 0) runs.push(current);
  return runs;
}

function text(
  x: number,
  y: number,
  content: string,
  style: { size: number; anchor: 'start' | 'middle' | 'end'; weight?: string; fill?: string },
): string {
  return `<text x="${n(x)}" y="${n(y)}" font-size="${style.size}" text-anchor="${style.anchor}"${style.weight ? ` font-weight="${style.weight}"` : ''} fill="${style.fill ?? '#222'}">${escapeXml(content)}</text>`;
}

export function escapeXml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function n(x: number): string {
  return Number(x.toFixed(2)).toString();
}
