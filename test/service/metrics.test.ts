import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAggregatorConfig } from '../../services/aggregator/config.ts';
import { loadHospitalConfig } from '../../services/hospital-node/config.ts';
import { readInferenceConfig } from '../../services/inference-api/config.ts';
import { createServiceApp } from '../../shared/service/create-app.ts';
import { ConfigError } from '../../shared/service/config.ts';
import { metricsTokenSource } from '../../shared/service/metrics-config.ts';
import { metricsPlugin, UNMATCHED_ROUTE } from '../../shared/service/metrics-plugin.ts';
import { writeTinyModelDir } from '../inference-api/fixtures.ts';
import { buildInferenceApp } from '../inference-api/test-app.ts';
import { metricTypes, parseExposition, sampleValue } from '../helpers/prometheus.ts';
import { useTestBackend } from '../helpers/tiny.ts';

const TOKEN = 'metrics-token-for-tests-0123456789';

let dir: string;
const apps: FastifyInstance[] = [];

/** A service app with the metrics plugin and one route with an id in its path. */
async function serviceApp(token?: () => string): Promise<FastifyInstance> {
  const app = await createServiceApp({
    name: 'metrics-test',
    version: '1.2.3',
    description: 'test',
    logger: false,
    bearerAuth: true,
  });
  await app.register(metricsPlugin, {
    registry: new Registry(),
    service: 'metrics-test',
    version: '1.2.3',
    token,
  });
  app.get('/items/:id', async (req) => ({ id: (req.params as { id: string }).id }));
  apps.push(app);
  await app.ready();
  return app;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fedxray-metrics-'));
});

afterAll(async () => {
  for (const app of apps) await app.close();
  await rm(dir, { recursive: true, force: true });
});

describe('GET /metrics', () => {
  it('answers the Prometheus text format: process metrics and the service info', async () => {
    const app = await serviceApp();
    const res = await request(app.server).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const samples = parseExposition(res.text);
    const types = metricTypes(res.text);
    expect(types.get('process_cpu_seconds_total')).toBe('counter');
    expect(types.get('nodejs_heap_size_used_bytes')).toBe('gauge');
    expect(types.get('http_request_duration_seconds')).toBe('histogram');
    expect(sampleValue(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(sampleValue(samples, 'fedxray_service_info', { service: 'metrics-test' })).toBe(1);
    expect(samples.find((s) => s.name === 'fedxray_service_info')?.labels.version).toBe('1.2.3');
  });

  it('counts requests by route pattern, method and status; not /metrics itself', async () => {
    const app = await serviceApp();
    for (const id of ['a1', 'b2', 'c3']) {
      expect((await request(app.server).get(`/items/${id}`)).status).toBe(200);
    }
    expect((await request(app.server).get('/health')).status).toBe(200);
    expect((await request(app.server).get('/no/such/route/42')).status).toBe(404);
    await request(app.server).get('/metrics');
    const { text } = await request(app.server).get('/metrics');
    const samples = parseExposition(text);
    const items = { method: 'GET', route: '/items/:id', status_code: '200' };
    expect(sampleValue(samples, 'http_requests_total', items)).toBe(3);
    expect(sampleValue(samples, 'http_request_duration_seconds_count', items)).toBe(3);
    expect(
      sampleValue(samples, 'http_request_duration_seconds_bucket', { ...items, le: '+Inf' }),
    ).toBe(3);
    // /health is registered by createServiceApp before the plugin: still counted.
    expect(
      sampleValue(samples, 'http_requests_total', {
        method: 'GET',
        route: '/health',
        status_code: '200',
      }),
    ).toBe(1);
    expect(
      sampleValue(samples, 'http_requests_total', {
        method: 'GET',
        route: UNMATCHED_ROUTE,
        status_code: '404',
      }),
    ).toBe(1);
    const routes = new Set(samples.map((s) => s.labels.route).filter(Boolean));
    expect(routes).toEqual(new Set(['/items/:id', '/health', UNMATCHED_ROUTE]));
  });

  it('keeps each app its own counts (one registry per app)', async () => {
    const a = await serviceApp();
    const b = await serviceApp();
    await request(a.server).get('/items/x');
    const ofB = parseExposition((await request(b.server).get('/metrics')).text);
    expect(sampleValue(ofB, 'http_requests_total', { route: '/items/:id' })).toBe(0);
    const ofA = parseExposition((await request(a.server).get('/metrics')).text);
    expect(sampleValue(ofA, 'http_requests_total', { route: '/items/:id' })).toBe(1);
  });

  it('is in the OpenAPI document as text/plain', async () => {
    const app = await serviceApp(() => TOKEN);
    const docs = await request(app.server).get('/docs/json');
    const get = docs.body.paths['/metrics'].get;
    expect(Object.keys(get.responses['200'].content)).toEqual(['text/plain']);
    expect(get.security).toEqual([{ bearerAuth: [] }]);
    expect(get.responses['401']).toBeDefined();
  });

  it('with a token: 401 without it or with another, 200 with it', async () => {
    const app = await serviceApp(() => TOKEN);
    const none = await request(app.server).get('/metrics');
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('missing-metrics-token');
    expect(none.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    const wrong = await request(app.server)
      .get('/metrics')
      .set('authorization', 'Bearer another-token-0123456789');
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('invalid-metrics-token');
    const ok = await request(app.server).get('/metrics').set('authorization', `Bearer ${TOKEN}`);
    expect(ok.status).toBe(200);
    expect(parseExposition(ok.text).length).toBeGreaterThan(0);
    // Other routes are not affected.
    expect((await request(app.server).get('/health')).status).toBe(200);
  });
});

describe('METRICS_TOKEN and METRICS_TOKEN_FILE', () => {
  it('is read by every service, never both, and a short token is refused', () => {
    const hospital = {
      HOSPITAL_ID: 'h',
      DATA_DIR: '/data',
      AGGREGATOR_URL: 'http://127.0.0.1:3000',
      HOSPITAL_TOKEN: 'hospital-token-0123456789',
    };
    expect(loadAggregatorConfig({ METRICS_TOKEN: TOKEN }).metricsToken).toBe(TOKEN);
    expect(loadHospitalConfig({ ...hospital, METRICS_TOKEN_FILE: '/t' }).metricsTokenFile).toBe(
      '/t',
    );
    expect(readInferenceConfig({ METRICS_TOKEN: TOKEN }).metricsToken).toBe(TOKEN);
    const both = { METRICS_TOKEN: TOKEN, METRICS_TOKEN_FILE: '/t' };
    for (const load of [
      () => loadAggregatorConfig(both),
      () => loadHospitalConfig({ ...hospital, ...both }),
      () => readInferenceConfig(both),
    ]) {
      expect(load).toThrow(/set METRICS_TOKEN or METRICS_TOKEN_FILE, not both/);
    }
    expect(() => loadAggregatorConfig({ METRICS_TOKEN: 'short' })).toThrow(
      /METRICS_TOKEN: .*\(got 5 characters, not shown\)/,
    );
  });

  it('METRICS_TOKEN_FILE is read at start and re-read when it changes', async () => {
    const file = join(dir, 'metrics-token');
    expect(() => metricsTokenSource({ metricsTokenFile: file }, { onProblem: () => {} })).toThrow(
      ConfigError,
    );
    await writeFile(file, `# the metrics token\n${TOKEN}\n`);
    let now = 0;
    const token = metricsTokenSource(
      { metricsTokenFile: file },
      { onProblem: () => {}, now: () => now },
    );
    expect(token?.()).toBe(TOKEN);
    await writeFile(file, 'rotated-metrics-token-0123456789\n');
    now += 5_000;
    expect(token?.()).toBe('rotated-metrics-token-0123456789');
    expect(metricsTokenSource({}, { onProblem: () => {} })).toBeUndefined();
  });

  it('a service built with METRICS_TOKEN enforces it', async () => {
    await useTestBackend();
    await writeTinyModelDir(join(dir, 'model'));
    const app = await buildInferenceApp({
      modelDir: join(dir, 'model'),
      maxUploadBytes: 1 << 20,
      stateDir: join(dir, 'state'),
      metricsToken: TOKEN,
    });
    apps.push(app);
    await app.ready();
    expect((await request(app.server).get('/metrics')).status).toBe(401);
    const ok = await request(app.server).get('/metrics').set('authorization', `Bearer ${TOKEN}`);
    expect(ok.status).toBe(200);
    expect(sampleValue(parseExposition(ok.text), 'fedxray_model_info')).toBe(1);
  });
});
