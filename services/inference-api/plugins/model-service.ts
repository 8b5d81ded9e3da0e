import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { ModelService, ReloadOutcome } from '../lib/model-service.ts';

export interface ModelServicePluginOptions {
  models: ModelService;
}

/**
 * Ties the model service to the app's life: the MODEL_DIR model is loaded before the app is
 * ready, the aggregator is polled once it is, polling stops and the model is freed on close.
 * Decorates the app with reload() (poll the aggregator now).
 */
async function modelService(
  app: FastifyInstance,
  { models }: ModelServicePluginOptions,
): Promise<void> {
  await models.loadDirectory();
  app.decorate('reload', (): Promise<ReloadOutcome> => models.reload());
  app.addHook('onReady', async () => models.start());
  app.addHook('onClose', async () => models.close());
}

// fastify-plugin: the decorations and hooks belong to the app itself, not to an encapsulated
// child context.
export const modelServicePlugin = fp(modelService, { name: 'model-service', fastify: '5.x' });
