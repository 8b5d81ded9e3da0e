/**
 * Prometheus metrics for a fedxray service: GET /metrics in the text exposition format, with
 * per-route HTTP request counts and latencies, the process metrics and whatever the service
 * registers on its own Registry (one per app: tests build many apps in one process).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { bearerToken, secretsEqual } from './auth.ts';
import { errorResponses } from './create-app.ts';
import { HttpError } from './errors.ts';

export const METRICS_PATH = '/metrics';

/** Seconds: from fast JSON answers to weight uploads of tens of MB. */
export const HTTP_DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
];

/** The route label of a request that matched no route (404s): raw URLs would explode it. */
export const UNMATCHED_ROUTE = '(unmatched)';

export interface MetricsPluginOptions {
  /** The app's own registry; the service's metrics are registered on it too. */
  registry: Registry;
  /** `fedxray_service_info` labels. */
  service: string;
  version: string;
  /** The bearer token /metrics requires (re-read per scrape), or undefined: open. */
  token?: () => string;
}

let processRegistry: Registry | undefined;

/**
 * The process metrics (CPU, memory, event loop lag, GC), collected once per process: they
 * describe the process, not an app, and each collectDefaultMetrics call starts a GC observer
 * and an event-loop monitor that are never stopped. Every app's /metrics serves them.
 */
export function processMetricsRegistry(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** What /metrics answers: the process metrics and the app's registry, in exposition format. */
export async function exposition(registry: Registry): Promise<string> {
  return Registry.merge([processMetricsRegistry(), registry]).metrics();
}

async function metrics(app: FastifyInstance, options: MetricsPluginOptions): Promise<void> {
  const { registry, token } = options;
  const labelNames = ['method', 'route', 'status_code'] as const;
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status code',
    labelNames,
    registers: [registry],
  });
  const durations = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from receiving a request to its answer being sent, by route pattern',
    labelNames,
    buckets: HTTP_DURATION_BUCKETS,
    registers: [registry],
  });
  new Gauge({
    name: 'fedxray_service_info',
    help: 'The service and its software version (always 1)',
    labelNames: ['service', 'version'],
    registers: [registry],
  }).set({ service: options.service, version: options.version }, 1);

  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    // Scrapes every few seconds would outnumber the requests the histogram is for.
    if (route === METRICS_PATH) return;
    const labels = { method: request.method, route, status_code: String(reply.statusCode) };
    requests.inc(labels);
    durations.observe(labels, reply.elapsedTime / 1000);
  });

  app.get(
    METRICS_PATH,
    {
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        description:
          'Request counts and latencies per route, process metrics and the service’s own ' +
          'metrics (docs/metrics.md). ' +
          (token
            ? 'Needs `Authorization: Bearer <METRICS_TOKEN>`.'
            : 'Open: set METRICS_TOKEN to require a bearer token.'),
        tags: ['service'],
        produces: ['text/plain'],
        ...(token ? { security: [{ bearerAuth: [] }] } : {}),
        response: {
          200: { description: 'Prometheus text format 0.0.4', type: 'string' },
          ...(token ? errorResponses(401) : {}),
        },
      },
      onRequest: token
        ? async (request, reply) => {
            const presented = bearerToken(request);
            if (presented !== undefined && secretsEqual(presented, token())) return;
            reply.header('www-authenticate', 'Bearer realm="metrics"');
            throw presented === undefined
              ? new HttpError(
                  401,
                  'missing-metrics-token',
                  '/metrics needs Authorization: Bearer <METRICS_TOKEN>',
                )
              : new HttpError(
                  401,
                  'invalid-metrics-token',
                  'the bearer token is not METRICS_TOKEN',
                );
          }
        : undefined,
    },
    async (_request, reply) => {
      const text = await exposition(registry);
      return reply.type(registry.contentType).send(text);
    },
  );
}

// fastify-plugin: the onResponse hook must see every route of the app, not one child context.
export const metricsPlugin = fp(metrics, { name: 'metrics', fastify: '5.x' });
