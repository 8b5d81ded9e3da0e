/**
 * CORS for the origins in CORS_ORIGINS only (e.g. the aggregator's web dashboard, which posts
 * X-rays to POST /diagnose from the browser). A request from any other origin gets no CORS
 * header, so the browser keeps its answer from the page. Preflights (OPTIONS with
 * Access-Control-Request-Method) are answered 204 here, before any route or key check. Written
 * out because @fastify/cors is not among the dependencies and one allow-list is all it takes.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export interface CorsPluginOptions {
  /** CORS_ORIGINS: comma-separated origins; absent or empty = no cross-origin access. */
  origins: string | undefined;
}

const ALLOWED_METHODS = 'GET, POST, OPTIONS';
const ALLOWED_HEADERS = 'authorization, x-api-key, content-type, x-request-id';
const EXPOSED_HEADERS = 'x-request-id, retry-after';

/** The origins of a CORS_ORIGINS value, without blanks, empties or a trailing slash. */
export function parseCorsOrigins(text: string | undefined): Set<string> {
  return new Set(
    (text ?? '')
      .split(',')
      .map((origin) => origin.trim().replace(/\/$/, ''))
      .filter((origin) => origin !== ''),
  );
}

async function cors(app: FastifyInstance, { origins }: CorsPluginOptions): Promise<void> {
  const allowed = parseCorsOrigins(origins);
  if (allowed.size === 0) return;
  app.addHook('onRequest', async (request, reply) => {
    // Answers differ by Origin: caches must keep them apart.
    reply.header('vary', 'Origin');
    const origin = request.headers.origin;
    if (origin === undefined || !allowed.has(origin)) return;
    reply.header('access-control-allow-origin', origin);
    reply.header('access-control-expose-headers', EXPOSED_HEADERS);
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method']) {
      reply.header('access-control-allow-methods', ALLOWED_METHODS);
      reply.header('access-control-allow-headers', ALLOWED_HEADERS);
      reply.header('access-control-max-age', '600');
      return reply.status(204).send();
    }
  });
}

export const corsPlugin = fp(cors, { name: 'cors', fastify: '5.x' });
