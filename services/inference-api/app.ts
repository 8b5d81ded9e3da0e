import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { createServiceApp } from '../../shared/service/create-app.ts';
import { SOFTWARE_VERSION } from '../../shared/service/version.ts';
import { registerInfoRoute } from '../../shared/service/info-route.ts';
import { initBackend, type BackendInfo } from '../../shared/tf/backend.ts';
import type { InferenceConfig } from './config.ts';
import { AggregatorClient, type FetchFn } from './lib/aggregator-client.ts';
import { ModelService, type ReloadOutcome } from './lib/model-service.ts';
import { MULTIPART_LIMITS } from './lib/upload.ts';
import { modelServicePlugin } from './plugins/model-service.ts';
import { diagnoseRoutes } from './routes/diagnose.ts';
import { modelRoutes } from './routes/models.ts';

export const SERVICE_NAME = 'fedxray-inference-api';

export interface AppDeps {
  /** false in tests; default: JSON logs at LOG_LEVEL. */
  logger?: FastifyServerOptions['logger'];
  /** How the aggregator is reached (tests may stub it). */
  fetch?: FetchFn;
}

export type InferenceApp = FastifyInstance & {
  /** Polls the aggregator now; resolves when the poll (and any swap) is done. */
  reload(): Promise<ReloadOutcome>;
  models: ModelService;
  backend: BackendInfo;
};

export async function buildApp(config: InferenceConfig, deps: AppDeps = {}): Promise<InferenceApp> {
  const app = await createServiceApp({
    name: SERVICE_NAME,
    version: SOFTWARE_VERSION,
    description:
      'Diagnoses chest X-rays with the federated production model. Research use only: not a ' +
      'medical device, not for clinical decisions.',
    logger: deps.logger,
  });
  await app.register(multipart, {
    limits: { ...MULTIPART_LIMITS, fileSize: config.maxUploadBytes },
  });

  const backend = await initBackend({ log: (line) => app.log.info(line) });
  const models = new ModelService({
    log: app.log,
    modelDir: config.modelDir,
    client:
      config.aggregatorUrl === undefined
        ? undefined
        : new AggregatorClient({
            baseUrl: config.aggregatorUrl,
            token: config.aggregatorToken,
            fetch: deps.fetch,
          }),
    pollSeconds: config.modelPollSeconds,
  });
  app.decorate('models', models);
  app.decorate('backend', backend);
  await app.register(modelServicePlugin, { models });

  registerInfoRoute(app, 'inference-api', () => ({
    model: models.current?.info.id ?? null,
  }));
  await app.register(diagnoseRoutes, { models, maxUploadBytes: config.maxUploadBytes });
  await app.register(modelRoutes, { models });
  return app as InferenceApp;
}
