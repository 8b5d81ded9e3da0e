import { resolve } from 'node:path';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { Registry } from 'prom-client';
import { createServiceApp, REDACTED_PATHS } from '../../shared/service/create-app.ts';
import { metricsTokenSource } from '../../shared/service/metrics-config.ts';
import { metricsPlugin } from '../../shared/service/metrics-plugin.ts';
import { tokenFile } from '../../shared/service/secret-file.ts';
import { loadTlsCredentials } from '../../shared/service/tls.ts';
import { SOFTWARE_VERSION } from '../../shared/service/version.ts';
import { registerInfoRoute } from '../../shared/service/info-route.ts';
import { initBackend, type BackendInfo } from '../../shared/tf/backend.ts';
import {
  DEFAULT_MAX_CONCURRENT_DIAGNOSES,
  DEFAULT_ONNX_THREADS,
  DEFAULT_RATE_LIMIT_PER_MINUTE,
  DEFAULT_STATE_DIR,
  type InferenceConfig,
} from './config.ts';
import { DiagnoseAccess } from './lib/access.ts';
import { AdminAccess } from './lib/admin-access.ts';
import { ApiKeyFile } from './lib/api-key-file.ts';
import { AggregatorClient, type FetchFn } from './lib/aggregator-client.ts';
import { InFlightLimit } from './lib/in-flight.ts';
import { InferRuntime } from './lib/infer-runtime.ts';
import { InferenceMetrics } from './lib/inference-metrics.ts';
import { ModelService, type ReloadOutcome } from './lib/model-service.ts';
import type { OrtLoad } from '../../shared/onnx/runtime.ts';
import { OperatingPointStore } from './lib/operating-point.ts';
import { MULTIPART_LIMITS } from './lib/upload.ts';
import { corsPlugin } from './plugins/cors.ts';
import { inferenceMetricsPlugin } from './plugins/metrics.ts';
import { modelServicePlugin } from './plugins/model-service.ts';
import { diagnoseRoutes } from './routes/diagnose.ts';
import { modelRoutes } from './routes/models.ts';
import { operatingPointRoutes } from './routes/operating-point.ts';

export const SERVICE_NAME = 'fedxray-inference-api';

/**
 * Secrets redacted from every log line: the shared paths, plus the request headers that
 * @fastify/multipart logs at trace level (`busboyOptions.headers`), which carry the API key.
 */
export const INFERENCE_REDACTED_PATHS = [
  ...REDACTED_PATHS,
  'busboyOptions.headers.authorization',
  'busboyOptions.headers["x-api-key"]',
  'busboyOptions.headers.cookie',
];

export interface AppDeps {
  /** false in tests; default: JSON logs at LOG_LEVEL, INFERENCE_REDACTED_PATHS redacted. */
  logger?: FastifyServerOptions['logger'];
  /** How the aggregator is reached (tests may stub it). */
  fetch?: FetchFn;
  /**
   * Milliseconds clock of the rate limiter and of the key and token files' checks (tests);
   * default performance.now (the files: Date.now).
   */
  now?: () => number;
  /** Imports onnxruntime-node (tests stand in an absent or broken one). */
  loadOnnxRuntime?: () => Promise<OrtLoad>;
}

export type InferenceApp = FastifyInstance & {
  /** Polls the aggregator now; resolves when the poll (and any swap) is done. */
  reload(): Promise<ReloadOutcome>;
  models: ModelService;
  backend: BackendInfo;
  operatingPoints: OperatingPointStore;
};

export async function buildApp(config: InferenceConfig, deps: AppDeps = {}): Promise<InferenceApp> {
  // A bad cap (a config built in code skips the schema) is a RangeError before anything starts.
  const inFlight = new InFlightLimit(
    config.maxConcurrentDiagnoses ?? DEFAULT_MAX_CONCURRENT_DIAGNOSES,
  );
  // HTTPS when TLS_CERT_FILE/TLS_KEY_FILE are set: a bad file is a ConfigError before anything
  // else starts.
  const https = await loadTlsCredentials(config);
  // Read before anything starts: a missing or bad API_KEYS_FILE is a ConfigError. Its later
  // reloads log through the app (declared below; the callbacks run only once it exists).
  const liveKeys =
    config.apiKeysFile === undefined
      ? undefined
      : new ApiKeyFile({
          path: config.apiKeysFile,
          onProblem: (message) => app.log.error(message),
          onReload: (keys) => app.log.info({ apiKeys: keys }, 'API_KEYS_FILE re-read'),
          now: deps.now,
        });
  // AGGREGATOR_TOKEN_FILE likewise: read now, re-read when it changes (before each call to the
  // aggregator, at most once a second).
  const aggregatorToken =
    config.aggregatorTokenFile === undefined
      ? undefined
      : tokenFile({
          variable: 'AGGREGATOR_TOKEN_FILE',
          path: config.aggregatorTokenFile,
          onProblem: (message) => app.log.error(message),
          onChange: () => app.log.info('AGGREGATOR_TOKEN_FILE re-read: a new token is in force'),
          now: deps.now,
        });
  // A corrupt STATE_DIR/operating-point.json is a ConfigError naming it, before anything starts.
  const stateDir = resolve(config.stateDir ?? DEFAULT_STATE_DIR);
  const operatingPoints = new OperatingPointStore(stateDir);
  // METRICS_TOKEN_FILE likewise (GET /metrics).
  const metricsToken = metricsTokenSource(config, {
    onProblem: (message) => app.log.error(message),
    onChange: () => app.log.info('METRICS_TOKEN_FILE re-read: a new token is in force'),
    now: deps.now,
  });
  const app = await createServiceApp({
    name: SERVICE_NAME,
    version: SOFTWARE_VERSION,
    description:
      'Diagnoses chest X-rays with the federated production model. Research use only: not a ' +
      'medical device, not for clinical decisions.',
    logger:
      deps.logger === undefined || deps.logger === true
        ? { level: process.env.LOG_LEVEL ?? 'info', redact: INFERENCE_REDACTED_PATHS }
        : deps.logger,
    https,
    requestTimeoutMs: config.requestTimeoutMs,
    bearerAuth: true,
  });
  await app.register(multipart, {
    limits: { ...MULTIPART_LIMITS, fileSize: config.maxUploadBytes },
  });
  // Browsers on CORS_ORIGINS (the aggregator's dashboard) may call this API.
  await app.register(corsPlugin, { origins: config.corsOrigins });

  // GET /metrics (docs/metrics.md): one registry per app, so tests can build many.
  const registry = new Registry();
  const metrics = new InferenceMetrics(registry);
  await app.register(metricsPlugin, {
    registry,
    service: SERVICE_NAME,
    version: SOFTWARE_VERSION,
    token: metricsToken,
  });

  const backend = await initBackend({ log: (line) => app.log.info(line) });
  const runtime = new InferRuntime({
    mode: config.inferRuntime ?? 'auto',
    threads: config.onnxThreads ?? DEFAULT_ONNX_THREADS,
    log: app.log,
    load: deps.loadOnnxRuntime,
  });
  await runtime.init();
  const models = new ModelService({
    log: app.log,
    modelDir: config.modelDir,
    client:
      config.aggregatorUrl === undefined
        ? undefined
        : new AggregatorClient({
            baseUrl: config.aggregatorUrl,
            token: aggregatorToken ? () => aggregatorToken.current() : config.aggregatorToken,
            fetch: deps.fetch,
          }),
    pollSeconds: config.modelPollSeconds,
    metrics,
    runtime,
  });
  app.decorate('models', models);
  app.decorate('backend', backend);
  app.decorate('operatingPoints', operatingPoints);
  await app.register(modelServicePlugin, { models });
  await app.register(inferenceMetricsPlugin, { metrics });

  registerInfoRoute(app, 'inference-api', () => ({
    model: models.current?.info.id ?? null,
    ...runtime.status(models.current),
  }));
  const access = new DiagnoseAccess({
    apiKeys: config.apiKeys,
    liveKeys,
    rateLimitPerMinute: config.rateLimitPerMinute ?? DEFAULT_RATE_LIMIT_PER_MINUTE,
    now: deps.now,
    realm: SERVICE_NAME,
  });
  app.log.info(
    {
      apiKeys: liveKeys
        ? `${liveKeys.current().length} from API_KEYS_FILE`
        : access.keysRequired
          ? (config.apiKeys?.length ?? 0)
          : 'off',
      rateLimitPerMinute: access.limiter?.perMinute ?? 'off',
      maxConcurrentDiagnoses: inFlight.max || 'off',
    },
    'POST /diagnose access',
  );
  app.log.info(
    { stateDir, adminRoutes: config.adminToken === undefined ? 'off (no ADMIN_TOKEN)' : 'on' },
    'site operating point (PUT /models/current/threshold)',
  );
  await app.register(diagnoseRoutes, {
    models,
    maxUploadBytes: config.maxUploadBytes,
    access,
    inFlight,
    operatingPoints,
  });
  await app.register(modelRoutes, { models, inFlight, operatingPoints });
  await app.register(operatingPointRoutes, {
    models,
    operatingPoints,
    admin: new AdminAccess(config.adminToken, SERVICE_NAME),
  });
  return app as InferenceApp;
}
