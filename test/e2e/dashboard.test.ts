// The web dashboard in a real browser (Debian's chromium through playwright-core): the
// aggregator with two hospital nodes on the shipped sample and the inference API, all
// in-process on ephemeral ports (the files it is served from: test/aggregator/
// dashboard-routes.test.ts). The page lists the hospitals once the admin token is typed in,
// starts a 2-round run of a tiny model and draws its curves as the run's events arrive,
// promotes and rolls back models, and diagnoses a sample X-ray across origins (CORS).
//
// Skipped when no chromium binary is found (CHROMIUM_PATH, else /usr/bin/chromium).
// FEDXRAY_SCREENSHOTS=1 also writes docs/screenshots/*.png; a failing step saves a screenshot
// under test-results/ and prints its path.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp as buildHospital } from '../../services/hospital-node/app.ts';
import { buildApp as buildInference } from '../../services/inference-api/app.ts';
import type { InferenceApp } from '../../services/inference-api/app.ts';
import { SHIPPED_MODEL_DIR } from '../../services/inference-api/config.ts';
import { SAMPLE_DATA_DIR } from '../../shared/data/index.ts';
import {
  ADMIN_TOKEN,
  freshState,
  json,
  registerHospital,
  startAggregator,
  TINY_RUN,
  type Aggregator,
} from '../aggregator/helpers.ts';
import { sixteenBitFromJpeg } from '../helpers/dicom.ts';
import { freePort } from '../helpers/ports.ts';
import { partitionSample } from '../helpers/sample-partition.ts';
import { useTestBackend } from '../helpers/tiny.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) {
  console.warn(
    `dashboard e2e test skipped: no chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`,
  );
}
const SCREENSHOTS = process.env.FEDXRAY_SCREENSHOTS === '1';
const DOCS_SCREENSHOTS = path.resolve('docs/screenshots');
const FAILURE_SCREENSHOTS = path.resolve('test-results');
const HOSPITALS = ['hospital-north', 'hospital-south'];

/** Points of a curve's series as drawn: the polyline's `points` attribute, counted. */
async function pointCount(page: Page, metric: string, series: string): Promise<number> {
  const polyline = page.locator(`svg[data-metric="${metric}"] polyline[data-series="${series}"]`);
  if ((await polyline.count()) === 0) return 0;
  const points = (await polyline.getAttribute('points')) ?? '';
  return points.trim() === '' ? 0 : points.trim().split(/\s+/).length;
}

describe.skipIf(!HAVE_CHROMIUM)('the web dashboard', () => {
  const cleanups: (() => Promise<void>)[] = [];
  let aggregator: Aggregator;
  let inferencePort: number;
  let inference: InferenceApp | undefined;
  let browser: Browser;
  let page: Page;
  let runId: string;

  async function productionModel(): Promise<{ id: string; version: number }> {
    const { status, body } = await json<{ id: string; version: number }>(
      `${aggregator.url}/models/production`,
    );
    expect(status).toBe(200);
    return body;
  }

  /** Runs a step; when it fails, saves a screenshot of the page and prints where. */
  async function step(name: string, body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (error) {
      await mkdir(FAILURE_SCREENSHOTS, { recursive: true });
      const file = path.join(FAILURE_SCREENSHOTS, `dashboard-${name}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      console.error(`dashboard test "${name}" failed; screenshot: ${file}`);
      throw error;
    }
  }

  /** The top `height` pixels of the page, into docs/screenshots/ (FEDXRAY_SCREENSHOTS=1). */
  async function docsScreenshot(name: string, height = 720): Promise<void> {
    if (!SCREENSHOTS) return;
    await mkdir(DOCS_SCREENSHOTS, { recursive: true });
    // Away from links, so that none shows its hover style.
    await page.mouse.move(1090, 60);
    const shot = await page.screenshot({ clip: { x: 0, y: 0, width: 1100, height } });
    // A palette PNG: about a third of the size, no visible loss on these flat pages.
    await sharp(shot)
      .png({ palette: true, quality: 90, compressionLevel: 9 })
      .toFile(path.join(DOCS_SCREENSHOTS, name));
  }

  beforeAll(async () => {
    await useTestBackend();
    const state = await freshState('pglite');
    cleanups.push(state.cleanup);
    inferencePort = await freePort();
    aggregator = await startAggregator(state.test.db, state.stateDir, {
      config: { inferenceUrl: `http://127.0.0.1:${inferencePort}` },
    });
    cleanups.push(() => aggregator.app.close());

    const root = await mkdtemp(path.join(tmpdir(), 'fedxray-dashboard-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const dataDirs = await partitionSample(root, HOSPITALS);
    for (const [i, name] of HOSPITALS.entries()) {
      const port = await freePort();
      const { token } = await registerHospital(aggregator.url, name, `http://127.0.0.1:${port}`);
      const node = await buildHospital(
        {
          hospitalId: name,
          dataDir: dataDirs[i],
          aggregatorUrl: aggregator.url,
          hospitalToken: token,
          port,
          host: '127.0.0.1',
          valFraction: 0.2,
          seed: 42,
        },
        { logger: false, retry: { retries: 2, minTimeoutMs: 200, factor: 2.5 } },
      );
      cleanups.push(() => node.close());
      await node.listen({ port, host: '127.0.0.1' });
    }

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    cleanups.push(() => browser.close());
    page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
    page.setDefaultTimeout(30_000);
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  });

  it('lists the hospitals once the admin token is typed in', async () => {
    await step('hospitals', async () => {
      await page.goto(`${aggregator.url}/#/hospitals`);
      await expect.poll(() => page.locator('main').innerText()).toContain('Enter the admin token');
      await page.fill('input[name="admin-token"]', ADMIN_TOKEN);
      await page.click('form.token button');
      for (const name of HOSPITALS) {
        await page.locator(`tr[data-hospital="${name}"]`).waitFor();
      }
      // No round has selected them yet: the aggregator has not seen them.
      expect(await page.locator('tr[data-hospital] .state').allInnerTexts()).toEqual(
        HOSPITALS.map(() => 'offline'),
      );
    });
  });

  it('starts a run and draws its curves as its rounds complete', async () => {
    await step('run', async () => {
      await page.click('nav a[href="#/runs"]');
      await page.click('details.start-run summary');
      await page.fill(
        'textarea[name="settings"]',
        JSON.stringify({ ...TINY_RUN, roundTimeoutSeconds: 60, seed: 42, promote: false }),
      );
      await page.click('details.start-run button[type="submit"]');
      await page.waitForURL(/#\/runs\/[^/]+$/);
      runId = decodeURIComponent(page.url().split('#/runs/')[1]);

      // The curves grow from the run's events: one point per completed round.
      await expect.poll(() => pointCount(page, 'loss', 'train'), { timeout: 90_000 }).toBe(1);
      await expect.poll(() => pointCount(page, 'loss', 'train'), { timeout: 90_000 }).toBe(2);
      await page.locator('section.run[data-status="completed"]').waitFor({ timeout: 30_000 });
      expect(await pointCount(page, 'loss', 'validation')).toBe(2);
      expect(await pointCount(page, 'accuracy', 'train')).toBe(2);
      expect(await pointCount(page, 'auc', 'validation')).toBe(2);
      expect(await page.locator('table.rounds tbody tr').count()).toBe(2);
      await docsScreenshot('run-curves.png', 520);
    });
  });

  it("shows each hospital's last contribution and the run in the list", async () => {
    await step('contributions', async () => {
      await page.click('nav a[href="#/hospitals"]');
      for (const name of HOSPITALS) {
        const row = page.locator(`tr[data-hospital="${name}"]`);
        await expect.poll(() => row.innerText()).toMatch(/round 2:\s*accepted/);
        expect(await row.locator('.state').innerText()).toBe('online');
      }
      await docsScreenshot('hospitals.png', 260);
      await page.click('nav a[href="#/runs"]');
      const row = page.locator(`tr[data-run="${runId}"]`);
      await expect.poll(() => row.innerText()).toContain('completed');
      expect(await row.innerText()).toContain('2 / 2');
    });
  });

  it('promotes a model and rolls back to the previous one', async () => {
    await step('models', async () => {
      await page.click('nav a[href="#/models"]');
      // Three versions: the initial model and one per round, none in production (promote false).
      await expect.poll(() => page.locator('tr[data-model]').count()).toBe(3);
      const rows = await page.locator('tr[data-model]').all();
      const [latest, middle] = (
        await Promise.all(rows.map((r) => r.getAttribute('data-model')))
      ).filter((id): id is string => id !== null);
      const row = (id: string) => page.locator(`tr[data-model="${id}"]`);

      await row(latest).getByRole('button', { name: 'Promote', exact: true }).click();
      await row(latest)
        .getByRole('button', { name: /^Confirm promote/ })
        .click();
      await expect.poll(() => row(latest).getAttribute('data-stage')).toBe('production');
      expect((await productionModel()).id).toBe(latest);

      await row(middle).getByRole('button', { name: 'Promote', exact: true }).click();
      await row(middle)
        .getByRole('button', { name: /^Confirm promote/ })
        .click();
      await expect.poll(() => row(latest).getAttribute('data-stage')).toBe('archived');

      // The archived model was in production: it offers a roll back.
      await row(latest).getByRole('button', { name: 'Roll back', exact: true }).click();
      await row(latest)
        .getByRole('button', { name: /^Confirm roll back/ })
        .click();
      await expect.poll(() => row(latest).getAttribute('data-stage')).toBe('production');
      expect(await page.locator('p.notice').innerText()).toContain('Roll back');
      expect((await productionModel()).id).toBe(latest);
      await docsScreenshot('models.png', 350);
    });
  });

  it('diagnoses a sample X-ray on the inference API from the page', async () => {
    await step('diagnose', async () => {
      const origin = aggregator.url.replace(/\/$/, '');
      inference = await buildInference(
        {
          port: inferencePort,
          host: '127.0.0.1',
          aggregatorUrl: aggregator.url,
          aggregatorToken: ADMIN_TOKEN,
          modelPollSeconds: 0,
          maxUploadBytes: 10 * 1024 * 1024,
          corsOrigins: origin,
          rateLimitPerMinute: 0,
        },
        { logger: false },
      );
      cleanups.push(() => inference!.close());
      await inference.listen({ port: inferencePort, host: '127.0.0.1' });
      const production = await productionModel();
      expect(await inference.reload()).toMatchObject({ modelId: production.id });

      await page.click('nav a[href="#/diagnose"]');
      expect(await page.inputValue('input[name="inference-url"]')).toBe(
        `http://127.0.0.1:${inferencePort}`,
      );
      const pneumonia = path.join(SAMPLE_DATA_DIR, 'PNEUMONIA');
      const image = path.join(pneumonia, (await readdir(pneumonia)).sort()[0]);
      await page.setInputFiles('input[name="image"]', image);
      await page.click('section.diagnose button[type="submit"]');
      const result = page.locator('.result');
      await result.waitFor();
      const label = await result.getAttribute('data-label');
      expect(['NORMAL', 'PNEUMONIA']).toContain(label);
      expect(await result.locator('.label').innerText()).toBe(label);
      expect(await result.locator('.probability').innerText()).toMatch(/^\d+\.\d %$/);
      expect(await result.innerText()).toContain(`v${production.version}`);
      // The page asks for explain=true: the heatmap the API drew over the X-ray replaces the
      // preview; the checkbox switches back to the uploaded image.
      const heatmap = page.locator('.xray img.heatmap');
      expect(await heatmap.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
      expect(await result.innerText()).toContain('grad-cam');
      await page.click('.result input[type="checkbox"]');
      await page.locator('.xray img.image').waitFor();
      await page.click('.result input[type="checkbox"]');
      await heatmap.waitFor();

      // A DICOM file of the same X-ray: the browser cannot show it, the API's heatmap can.
      const dicom = await sixteenBitFromJpeg(await readFile(image), {
        modality: 'DX',
        viewPosition: 'PA',
      });
      await page.setInputFiles('input[name="image"]', {
        name: 'xray.dcm',
        mimeType: 'application/dicom',
        buffer: dicom,
      });
      await page.click('section.diagnose button[type="submit"]');
      await expect.poll(() => result.innerText()).toMatch(/DICOM 256 x 256, DX\s+PA/);
      expect(await result.getAttribute('data-label')).toBe(label);
      await heatmap.waitFor();
      expect(await page.locator('.xray img.image').count()).toBe(0);
      if (SCREENSHOTS) await screenshotShippedModelDiagnosis(origin, image);
    });
  });

  /**
   * For docs/screenshots/diagnose.png: the tiny model's last stage is 1 x 1, so its heatmap is
   * flat; the shipped model's is not. The page is pointed at a second inference API serving it.
   */
  async function screenshotShippedModelDiagnosis(origin: string, image: string): Promise<void> {
    const shipped = await buildInference(
      {
        port: 0,
        host: '127.0.0.1',
        modelDir: SHIPPED_MODEL_DIR,
        modelPollSeconds: 0,
        maxUploadBytes: 10 * 1024 * 1024,
        corsOrigins: origin,
        stateDir: path.join(tmpdir(), `fedxray-dashboard-shipped-${process.pid}`),
      },
      { logger: false },
    );
    cleanups.push(() => shipped.close());
    const url = await shipped.listen({ port: 0, host: '127.0.0.1' });
    const heatmap = page.locator('.xray img.heatmap');
    const before = (await heatmap.count()) > 0 ? await heatmap.getAttribute('src') : null;
    await page.fill('input[name="inference-url"]', url);
    await page.setInputFiles('input[name="image"]', image);
    await page.click('section.diagnose button[type="submit"]');
    await expect
      .poll(async () => ((await heatmap.count()) > 0 ? heatmap.getAttribute('src') : before), {
        timeout: 60_000,
      })
      .not.toBe(before);
    await docsScreenshot('diagnose.png');
  }
});
