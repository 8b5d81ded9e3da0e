import { Type } from '@sinclair/typebox';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { bearerToken, generateToken, hashToken, secretsEqual } from '../../shared/service/auth.ts';
import { ConfigError, describeValue, loadConfig } from '../../shared/service/config.ts';
import { createServiceApp } from '../../shared/service/create-app.ts';
import { HttpError } from '../../shared/service/errors.ts';

describe('loadConfig', () => {
  const schema = Type.Object({
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 3000 }),
    url: Type.String({ minLength: 1 }),
    verbose: Type.Boolean({ default: false }),
  });
  const fields = { port: 'PORT', url: 'SOME_URL', verbose: 'VERBOSE' };

  it('converts values and fills defaults', () => {
    expect(
      loadConfig(schema, fields, { SOME_URL: 'http://x', PORT: '8080', VERBOSE: 'true' }),
    ).toEqual({ port: 8080, url: 'http://x', verbose: true });
    expect(loadConfig(schema, fields, { SOME_URL: 'http://x' }).port).toBe(3000);
  });

  it('names every bad variable in one clear message', () => {
    let error: unknown;
    try {
      loadConfig(schema, fields, { PORT: 'eighty' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/PORT: .*\(got "eighty"\)/);
    expect((error as Error).message).toMatch(/SOME_URL: .*\(not set\)/);
  });

  describe('numbers are plain decimals', () => {
    const numeric = Type.Object({
      count: Type.Integer({ default: 7 }),
      ratio: Type.Optional(Type.Number()),
    });
    const names = { count: 'COUNT', ratio: 'RATIO' };
    const read = (env: NodeJS.ProcessEnv) => loadConfig(numeric, names, env);

    it('reads signed decimal integers and decimals, blanks around them trimmed', () => {
      expect(read({ COUNT: '0', RATIO: '0.25' })).toEqual({ count: 0, ratio: 0.25 });
      expect(read({ COUNT: ' 32 ', RATIO: '.5' })).toEqual({ count: 32, ratio: 0.5 });
      expect(read({ COUNT: '-12', RATIO: '-3' })).toEqual({ count: -12, ratio: -3 });
      expect(read({ COUNT: '007', RATIO: '1.' })).toEqual({ count: 7, ratio: 1 });
      expect(Object.is(read({ COUNT: '-0' }).count, 0)).toBe(true);
      // An empty variable is unset, as for every variable (npm start relies on it).
      expect(read({ COUNT: '' })).toEqual({ count: 7 });
    });

    it('refuses fractions, exponents, other radixes, separators and garbage in integers', () => {
      for (const bad of [
        '1.5',
        '2e1',
        '1e3',
        '0x10',
        '0b11',
        '0o7',
        '1_000',
        '10abc',
        '  ',
        '+',
        '1 2',
      ]) {
        expect(() => read({ COUNT: bad }), bad).toThrow(ConfigError);
        expect(() => read({ COUNT: bad }), bad).toThrow(
          `COUNT: Expected a whole decimal number (got "${bad}")`,
        );
      }
      // Beyond 2^53 an integer is no longer exact.
      expect(() => read({ COUNT: '9007199254740993' })).toThrow(/COUNT: Expected a whole/);
    });

    it('refuses exponents and garbage in numbers', () => {
      for (const bad of ['1.5abc', 'NaN', 'Infinity', '-Infinity', '1e-1', '0x10', '1.2.3', '.']) {
        expect(() => read({ RATIO: bad }), bad).toThrow(
          `RATIO: Expected a decimal number (got "${bad}")`,
        );
      }
    });

    it('reports a malformed number with the other problems, in schema order', () => {
      const both = Type.Object({
        count: Type.Integer({ minimum: 1 }),
        url: Type.String({ minLength: 1 }),
      });
      expect(() => loadConfig(both, { count: 'COUNT', url: 'SOME_URL' }, { COUNT: '2e1' })).toThrow(
        /COUNT: Expected a whole decimal number \(got "2e1"\)\n {2}SOME_URL: .*\(not set\)$/,
      );
    });
  });
});

describe('auth helpers', () => {
  it('compares and hashes tokens', () => {
    const t = generateToken();
    expect(t.length).toBeGreaterThanOrEqual(32);
    expect(secretsEqual(t, t)).toBe(true);
    expect(secretsEqual(t, t + 'x')).toBe(false);
    expect(hashToken(t)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('createServiceApp', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await createServiceApp({
      name: 'test-service',
      version: '1.2.3',
      description: 'test',
      logger: false,
    });
    app.get('/boom', async () => {
      throw new Error('secret internals');
    });
    app.get('/teapot', async () => {
      throw new HttpError(418, 'teapot', 'I am a teapot');
    });
    app.get('/whoami', async (req) => ({ token: bearerToken(req) ?? null }));
    app.post(
      '/echo',
      {
        schema: {
          body: {
            type: 'object',
            properties: { n: { type: 'integer', minimum: 1 } },
            required: ['n'],
          },
        },
      },
      async (req) => req.body,
    );
    await app.ready();
  });
  afterAll(() => app.close());

  it('serves /health and an OpenAPI document with Swagger UI', async () => {
    expect((await request(app.server).get('/health')).body).toEqual({
      status: 'ok',
      service: 'test-service',
      version: '1.2.3',
    });
    const docs = await request(app.server).get('/docs/json');
    expect(docs.status).toBe(200);
    expect(docs.body.openapi).toBe('3.0.3');
    expect(Object.keys(docs.body.paths)).toContain('/echo');
    expect((await request(app.server).get('/docs/')).status).toBe(200);
  });

  it('answers errors as JSON with a code and the request id, hiding internals', async () => {
    const boom = await request(app.server).get('/boom');
    expect(boom.status).toBe(500);
    expect(boom.body.error).toMatchObject({
      code: 'internal-error',
      message: 'Internal server error',
    });
    expect(JSON.stringify(boom.body)).not.toContain('secret internals');
    expect(boom.body.error.requestId).toBe(boom.headers['x-request-id']);
    expect((await request(app.server).get('/teapot')).body.error).toMatchObject({
      code: 'teapot',
      message: 'I am a teapot',
    });
    const invalid = await request(app.server).post('/echo').send({ n: 0 });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.code).toBe('invalid-request');
    const missing = await request(app.server).get('/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not-found');
  });

  it('keeps a caller-supplied request id and reads bearer tokens', async () => {
    const res = await request(app.server)
      .get('/whoami')
      .set('x-request-id', 'abc-123')
      .set('authorization', 'Bearer tok_1');
    expect(res.headers['x-request-id']).toBe('abc-123');
    expect(res.body).toEqual({ token: 'tok_1' });
  });
});

describe('GET /info', () => {
  it('reports the service, version and tfjs backend, plus service fields', async () => {
    const { registerInfoRoute } = await import('../../shared/service/info-route.ts');
    const { initBackend } = await import('../../shared/tf/backend.ts');
    process.env.FEDXRAY_QUIET = '1';
    await initBackend();
    const app = await createServiceApp({
      name: 'x',
      version: '1',
      description: 'x',
      logger: false,
    });
    registerInfoRoute(app, 'test-service', () => ({ database: 'pglite' }));
    await app.ready();
    const res = await request(app.server).get('/info');
    expect(res.body).toMatchObject({
      service: 'test-service',
      backend: 'wasm',
      backendSource: '@tensorflow/tfjs-backend-wasm',
      database: 'pglite',
    });
    expect(res.body.version).toMatch(/^\d+\.\d+\.\d+/);
    await app.close();
  });
});

describe('describeValue', () => {
  it('quotes ordinary values and shows only the length of secrets', () => {
    expect(describeValue('PORT', 'eighty')).toBe('"eighty"');
    for (const variable of ['ADMIN_TOKEN', 'HOSPITAL_TOKEN', 'API_KEYS', 'DATABASE_URL'])
      expect(describeValue(variable, 'postgres://u:pw@h/db')).toBe('20 characters, not shown');
    expect(describeValue('API_KEYS_FILE', '/run/keys')).toBe('"/run/keys"');
  });
});
