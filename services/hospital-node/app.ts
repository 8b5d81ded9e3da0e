import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { Registry } from 'prom-client';
import { createServiceApp } from '../../shared/service/create-app.ts';
import { metricsTokenSource } from '../../shared/service/metrics-config.ts';
import { metricsPlugin } from '../../shared/service/metrics-plugin.ts';
import { loadTlsCredentials } from '../../shared/service/tls.ts';
import { SOFTWARE_VERSION } from '../../shared/service/version.ts';
import { initBackend } from '../../shared/tf/backend.ts';
import type { HospitalConfig } from './config.ts';
import { HospitalMetrics } from './lib/hospital-metrics.ts';
import { startWorkPoller } from './lib/work-poller.ts';
import { createHospitalContext, type HospitalDeps } from './plugins/hospital.ts';
import { evaluateRoutes } from './routes/evaluate.ts';
import { infoRoutes } from './routes/info.ts';
import { trainRoutes } from './routes/train.ts';

export interface BuildAppDeps extends HospitalDeps {
  /** false in tests; default: structured logs with secrets redacted. */
  logger?: FastifyServerOptions['logger'];
}

/**
 * The hospital node: trains the federation's model on local images and serves counts,
 * job status and validation metrics. Images, file names and patient ids never leave it.
 */
export async function buildApp(
  config: HospitalConfig,
  deps: BuildAppDeps = {},
): Promise<FastifyInstance> {
  // HTTPS when TLS_CERT_FILE/TLS_KEY_FILE are set: a bad file is a ConfigError before anything
  // else starts.
  const https = await loadTlsCredentials(config);
  // METRICS_TOKEN_FILE likewise: read now, re-read when it changes.
  const metricsToken = metricsTokenSource(config, {
    onProblem: (message) => app.log.error(message),
    onChange: () => app.log.info('METRICS_TOKEN_FILE re-read: a new token is in force'),
  });
  // External plugins: request ids, redacted logs, OpenAPI + Swagger UI, JSON errors, /health.
  const app = await createServiceApp({
    name: 'fedxray-hospital-node',
    version: SOFTWARE_VERSION,
    description:
      'A hospital of the federation: trains locally on its chest X-rays and shares only ' +
      'weights, sample counts and metrics.',
    logger: deps.logger,
    bearerAuth: true,
    https,
    requestTimeoutMs: config.requestTimeoutMs,
  });

  // The app's own plugins: the tfjs backend, the local data, the engine and the job manager.
  try {
    // GET /metrics (docs/metrics.md): one registry per app, so tests can build many.
    const registry = new Registry();
    const metrics = new HospitalMetrics(registry);
    await app.register(metricsPlugin, {
      registry,
      service: 'fedxray-hospital-node',
      version: SOFTWARE_VERSION,
      token: metricsToken,
    });
    await initBackend({ log: (line) => app.log.info(line) });
    const ctx = await createHospitalContext(config, deps, app.log, metrics);
    app.addHook('onClose', ctx.close);

    await app.register(infoRoutes, { ctx });
    await app.register(trainRoutes, { ctx });
    await app.register(evaluateRoutes, { ctx });
    let poller: { stop(): Promise<void> } | undefined;
    // Before the context closes (onClose hooks run after preClose): no request is taken after.
    app.addHook('preClose', async () => {
      await poller?.stop();
    });
    await app.ready();
    if (config.outboundOnly) {
      poller = startWorkPoller({
        client: ctx.client,
        handle: async (work) => {
          const res = await app.inject({
            method: work.method,
            url: work.path,
            headers: work.headers,
            ...(work.body === undefined ? {} : { payload: work.body }),
          });
          const type = res.headers['content-type'];
          return {
            status: res.statusCode,
            ...(typeof type === 'string' ? { contentType: type } : {}),
            body: res.body,
          };
        },
        log: app.log,
      });
    }
  } catch (error) {
    await app.close();
    throw error;
  }
  return app;
}
