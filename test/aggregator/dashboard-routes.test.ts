// The dashboard's files as the aggregator serves them, without a browser (the browser test is
// test/e2e/dashboard.test.ts): the page at /, its scripts, the one vendor file, the config, and
// nothing else of node_modules or the repository.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAggregatorConfig } from '../../services/aggregator/config.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { freshState, startAggregator, type Aggregator } from './helpers.ts';

const INFERENCE_URL = 'http://127.0.0.1:3200';

describe('the dashboard routes', () => {
  let aggregator: Aggregator;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    await useTestBackend();
    const state = await freshState('pglite');
    aggregator = await startAggregator(state.test.db, state.stateDir, {
      config: { inferenceUrl: INFERENCE_URL },
    });
    cleanup = async () => {
      await aggregator.app.close();
      await state.cleanup();
    };
  });

  afterAll(() => cleanup());

  const get = (path: string) => fetch(`${aggregator.url}${path}`);

  it('answers the page at / and its modules under /dashboard/', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('cache-control')).toMatch(/max-age=0/);
    expect(await page.text()).toContain('<script type="module" src="/dashboard/app.js">');
    for (const file of ['app.js', 'api.js', 'run.js', 'curve.js', 'diagnose.js', 'style.css']) {
      const res = await get(`/dashboard/${file}`);
      expect(res.status, file).toBe(200);
    }
    const app = await get('/dashboard/app.js');
    expect(app.headers.get('content-type')).toMatch(/javascript/);
    expect(await app.text()).toContain("from './vendor/standalone.module.js'");
  });

  it('serves htm + preact from node_modules, and only that file of it', async () => {
    const vendor = await get('/dashboard/vendor/standalone.module.js');
    expect(vendor.status).toBe(200);
    expect(vendor.headers.get('content-type')).toMatch(/javascript/);
    const text = await vendor.text();
    // An ES module exporting htm bound to preact, render and the hooks.
    expect(text).toMatch(/export\s*\{[^}]*\bhtml\b[^}]*\}/);
    expect(text).toMatch(/\buseEffect\b/);
    for (const path of [
      '/dashboard/vendor/index.js',
      '/dashboard/vendor/package.json',
      '/dashboard/vendor/../../htm/package.json',
      '/dashboard/vendor/%2e%2e/%2e%2e/preact/package.json',
      '/dashboard/../app.ts',
      '/dashboard/%2e%2e/app.ts',
    ]) {
      expect((await get(path)).status, path).toBe(404);
    }
  });

  it('tells the page where the inference API is, and the version', async () => {
    const res = await get('/dashboard/config.json');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ inferenceUrl: INFERENCE_URL, version: expect.any(String) });
  });

  it('reads INFERENCE_URL and refuses one that is not http(s)', () => {
    expect(loadAggregatorConfig({ INFERENCE_URL }).inferenceUrl).toBe(INFERENCE_URL);
    expect(() => loadAggregatorConfig({ INFERENCE_URL: 'ftp://x' })).toThrow(/INFERENCE_URL/);
  });
});
