import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { buildLineChartSvg } from '../../shared/report/line-chart-svg.ts';
import { renderLineChart, writeTrainingPlots } from '../../shared/report/plot.ts';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

async function expectPng(bytes: Buffer, width: number, height: number): Promise<void> {
  expect(bytes.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
  const meta = await sharp(bytes).metadata();
  expect(meta.format).toBe('png');
  expect([meta.width, meta.height]).toEqual([width, height]);
}

describe('renderLineChart', () => {
  it('renders a PNG of the requested size', async () => {
    const png = await renderLineChart({
      title: 'Accuracy',
      xLabel: 'Epoch',
      yLabel: 'Accuracy',
      series: [
        {
          name: 'train',
          points: [
            [1, 0.7],
            [2, 0.8],
            [3, 0.9],
          ],
        },
        {
          name: 'val',
          points: [
            [1, 0.65],
            [2, 0.75],
            [3, 0.8],
          ],
        },
      ],
      yRange: [0, 1],
      width: 640,
      height: 400,
    });
    await expectPng(png, 640, 400);
    // Not a blank image: the lines and text leave dark and coloured pixels.
    const stats = await sharp(png).stats();
    expect(stats.channels[0].min).toBeLessThan(100);
  });

  it('copes with a single point, empty series, NaN and no series at all', async () => {
    await expectPng(
      await renderLineChart({
        title: 'Edge',
        xLabel: 'x',
        yLabel: 'y',
        series: [
          { name: 'single', points: [[3, 0.5]] },
          { name: 'empty', points: [] },
          {
            name: 'gappy',
            points: [
              [1, NaN],
              [2, 0.2],
              [3, Infinity],
              [4, 0.9],
            ],
          },
        ],
      }),
      800,
      500,
    );
    await expectPng(
      await renderLineChart({ title: 'None', xLabel: 'x', yLabel: 'y', series: [] }),
      800,
      500,
    );
    await expectPng(
      await renderLineChart({
        title: 'One',
        xLabel: 'x',
        yLabel: 'y',
        series: [{ name: 'a', points: [[1, 1]] }],
      }),
      800,
      500,
    );
  });
});

describe('buildLineChartSvg', () => {
  it('escapes text, splits lines at NaN and labels ticks', () => {
    const svg = buildLineChartSvg({
      title: 'Loss <train> & "val"',
      xLabel: 'Round',
      yLabel: 'Loss',
      series: [
        {
          name: 'a',
          points: [
            [1, 1],
            [2, 2],
            [3, NaN],
            [4, 1],
            [5, 0.5],
          ],
        },
        { name: 'b', points: [] },
      ],
    });
    expect(svg).toContain('Loss &lt;train&gt; &amp; &quot;val&quot;');
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg.match(/<circle cx=/g)?.length).toBe(4 + 2); // 4 markers + 2 legend markers
    expect(svg).toContain('b (no data)');
    expect(svg).not.toMatch(/NaN|Infinity/);
    for (const tick of ['>1<', '>2<', '>5<']) expect(svg).toContain(tick);
  });
});

describe('writeTrainingPlots', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes accuracy.png and loss.png', async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedxray-plots-'));
    const history = [1, 2, 3, 4].map((step) => ({
      step,
      trainLoss: 1 / step,
      trainAccuracy: 0.6 + step * 0.08,
      valLoss: step === 2 ? undefined : 1.2 / step,
      valAccuracy: 0.55 + step * 0.07,
      valAuc: 0.7 + step * 0.05,
    }));
    const paths = await writeTrainingPlots(join(dir, 'out'), history, 'round');
    expect(paths).toEqual({
      accuracy: join(dir, 'out', 'accuracy.png'),
      loss: join(dir, 'out', 'loss.png'),
    });
    await expectPng(await readFile(paths.accuracy), 800, 500);
    await expectPng(await readFile(paths.loss), 800, 500);
  });

  it('handles an empty history', async () => {
    dir ??= await mkdtemp(join(tmpdir(), 'fedxray-plots-'));
    const paths = await writeTrainingPlots(join(dir, 'empty'), [], 'epoch');
    await expectPng(await readFile(paths.loss), 800, 500);
  });
});
