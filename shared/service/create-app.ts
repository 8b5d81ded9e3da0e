import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { isDatabaseUnavailable } from '../db/errors.ts';
import { HttpError, type ErrorBody } from './errors.ts';
import { requestTimeoutServerOptions } from './request-timeout.ts';
import type { TlsCredentials } from './tls.ts';

export interface ServiceAppOptions {
  name: string;
  version: string;
  description: string;
  /** false in tests; pino options or true in production. */
  logger?: FastifyServerOptions['logger'];
  bodyLimit?: number;
  /** OpenAPI security schemes the service's routes refer to. */
  bearerAuth?: boolean;
  /** Serve HTTPS with this certificate and key (loadTlsCredentials); absent = plain HTTP. */
  https?: TlsCredentials;
  /** Whole-request deadline in ms (shared/service/request-timeout.ts); 0 or absent = none. */
  requestTimeoutMs?: number;
  /** How long one plugin may take to start, in ms; absent = PLUGIN_TIMEOUT_MS. */
  pluginTimeoutMs?: number;
}

/**
 * fastify's own default is 10 s, and the inference API loads its model inside a plugin: the
 * shipped ensemble (two networks, exported to ONNX and warmed up) took longer than that on a
 * busy 2-core machine, in a container and out of one, and the API then exited at every start
 * ("Plugin did not start in time: 'model-service'"). A load that truly hangs still ends.
 */
export const PLUGIN_TIMEOUT_MS = 300_000;

/** Redacted everywhere: no secret ever reaches a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
];

/**
 * A fastify instance with what every fedxray service shares: request ids (honouring and
 * returning `x-request-id`), structured logs with secrets redacted, an OpenAPI document built
 * from the route schemas with Swagger UI at /docs, JSON errors, and GET /health.
 */
export async function createServiceApp(options: ServiceAppOptions): Promise<FastifyInstance> {
  const logger =
    options.logger === undefined || options.logger === true
      ? { level: process.env.LOG_LEVEL ?? 'info', redact: REDACTED_PATHS }
      : options.logger;
  const timeout = requestTimeoutServerOptions(options.requestTimeoutMs ?? 0);
  const serverOptions = {
    logger,
    requestTimeout: timeout.requestTimeout,
    bodyLimit: options.bodyLimit ?? 1 << 20,
    pluginTimeout: options.pluginTimeoutMs ?? PLUGIN_TIMEOUT_MS,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  } satisfies FastifyServerOptions;
  // With `https` fastify types the instance over https.Server; the routes, hooks and
  // app.server calls the services use (listen, close, closeIdleConnections) are the same.
  const app = options.https
    ? (Fastify({
        ...serverOptions,
        https: { cert: options.https.cert, key: options.https.key, ...timeout },
      }) as FastifyInstance)
    : // Given to http.createServer, where Node enforces it; fastify's own option alone is not.
      Fastify({ ...serverOptions, http: timeout });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: options.name, version: options.version, description: options.description },
      components: options.bearerAuth
        ? { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } }
        : undefined,
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.setErrorHandler((error, request, reply) => {
    const body = (code: string, message: string, details?: Record<string, unknown>): ErrorBody => ({
      error: { code, message, requestId: request.id, ...(details ? { details } : {}) },
    });
    if (error instanceof HttpError) {
      return reply.status(error.statusCode).send(body(error.code, error.message, error.details));
    }
    const fastifyError = error as {
      validation?: unknown;
      statusCode?: number;
      code?: string;
      message: string;
    };
    if (fastifyError.validation) {
      return reply.status(400).send(body('invalid-request', fastifyError.message));
    }
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, 'database unavailable');
      return reply
        .status(503)
        .header('retry-after', '5')
        .send(body('database-unavailable', 'The database is unavailable; try again shortly'));
    }
    const status = fastifyError.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      return reply.status(status).send(body('internal-error', 'Internal server error'));
    }
    return reply
      .status(status)
      .send(body(fastifyError.code ?? 'request-error', fastifyError.message));
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({
      error: {
        code: 'not-found',
        message: `No route ${request.method} ${request.url}`,
        requestId: request.id,
      },
    } satisfies ErrorBody);
  });

  app.get(
    '/health',
    {
      schema: {
        summary: 'Liveness: the process answers',
        tags: ['service'],
        response: {
          200: {
            type: 'object',
            properties: {
              status: { type: 'string', enum: ['ok'] },
              service: { type: 'string' },
              version: { type: 'string' },
            },
            required: ['status'],
            examples: [{ status: 'ok', service: options.name, version: options.version }],
          },
        },
      },
    },
    async () => ({ status: 'ok' as const, service: options.name, version: options.version }),
  );
  return app;
}

/** The OpenAPI schema of the JSON error body, for route `response` maps. */
export const ERROR_RESPONSE_SCHEMA = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        requestId: { type: 'string' },
        details: { type: 'object', additionalProperties: true },
      },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const;

/** A route's `response` entries for its error statuses, all with the JSON error body. */
export function errorResponses<const C extends readonly number[]>(
  ...codes: C
): Record<C[number], typeof ERROR_RESPONSE_SCHEMA> {
  return Object.fromEntries(codes.map((code) => [code, ERROR_RESPONSE_SCHEMA])) as Record<
    C[number],
    typeof ERROR_RESPONSE_SCHEMA
  >;
}
