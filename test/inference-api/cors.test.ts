// CORS_ORIGINS: the listed origins (the aggregator's dashboard) may call the inference API from
// a browser; other origins get no CORS header; preflights are answered before any route.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readInferenceConfig } from '../../services/inference-api/config.ts';
import { corsPlugin, parseCorsOrigins } from '../../services/inference-api/plugins/cors.ts';
import { ConfigError } from '../../shared/service/config.ts';

const DASHBOARD = 'http://127.0.0.1:3000';

describe('CORS for the dashboard', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = Fastify();
    await app.register(corsPlugin, { origins: ` ${DASHBOARD}/ , http://localhost:3000` });
    // Like POST /diagnose with API keys: the route itself refuses a caller without a key.
    app.post('/diagnose', async (request, reply) =>
      request.headers['x-api-key'] ? { label: 'NORMAL' } : reply.status(401).send({ error: 'key' }),
    );
    await app.ready();
  });

  afterAll(() => app.close());

  it('answers a preflight from a listed origin with the methods and headers', async () => {
    const res = await app.inject({
      method: 'OPTIONS',
      url: '/diagnose?explain=true',
      headers: {
        origin: DASHBOARD,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-api-key',
      },
    });
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(DASHBOARD);
    expect(res.headers['access-control-allow-methods']).toBe('GET, POST, OPTIONS');
    expect(String(res.headers['access-control-allow-headers'])).toContain('x-api-key');
    expect(res.headers.vary).toBe('Origin');
  });

  it('lets a listed origin read answers, errors included', async () => {
    const ok = await app.inject({
      method: 'POST',
      url: '/diagnose',
      headers: { origin: 'http://localhost:3000', 'x-api-key': 'k' },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe('http://localhost:3000');
    const refused = await app.inject({
      method: 'POST',
      url: '/diagnose',
      headers: { origin: DASHBOARD },
    });
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['access-control-allow-origin']).toBe(DASHBOARD);
  });

  it('gives any other origin no CORS header and no preflight answer', async () => {
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/diagnose',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.statusCode).toBe(404);
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    const post = await app.inject({
      method: 'POST',
      url: '/diagnose',
      headers: { origin: 'http://evil.example', 'x-api-key': 'k' },
    });
    expect(post.headers['access-control-allow-origin']).toBeUndefined();
    expect(post.headers.vary).toBe('Origin');
  });

  it('adds nothing without CORS_ORIGINS', async () => {
    const bare = Fastify();
    await bare.register(corsPlugin, { origins: undefined });
    bare.get('/x', async () => 'x');
    const res = await bare.inject({ url: '/x', headers: { origin: DASHBOARD } });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(res.headers.vary).toBeUndefined();
    await bare.close();
  });

  it('reads CORS_ORIGINS as comma-separated origins and refuses a path', () => {
    expect([...parseCorsOrigins('http://a:1, https://b/ ,,')]).toEqual(['http://a:1', 'https://b']);
    const env = { MODEL_DIR: '/tmp/none' };
    expect(
      readInferenceConfig({ ...env, CORS_ORIGINS: `${DASHBOARD},http://x:1` }).corsOrigins,
    ).toBe(`${DASHBOARD},http://x:1`);
    expect(() => readInferenceConfig({ ...env, CORS_ORIGINS: `${DASHBOARD}/dashboard` })).toThrow(
      ConfigError,
    );
    expect(() => readInferenceConfig({ ...env, CORS_ORIGINS: '*' })).toThrow(/CORS_ORIGINS/);
  });
});
