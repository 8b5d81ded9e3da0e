import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { InferenceMetrics } from '../lib/inference-metrics.ts';
import type { Diagnosis } from '../schemas/diagnose.ts';

export interface InferenceMetricsPluginOptions {
  metrics: InferenceMetrics;
}

/** The route whose answers are counted as diagnoses. */
export const DIAGNOSE_ROUTE = '/diagnose';

function isDiagnosis(payload: unknown): payload is Pick<Diagnosis, 'label' | 'model'> {
  const p = payload as Partial<Diagnosis> | null;
  return typeof p?.label === 'string' && typeof p.model?.id === 'string';
}

/**
 * Counts every diagnosis POST /diagnose answers, by label and model, from the answer itself:
 * the route stays free of metrics code, and only what was really answered is counted.
 */
async function inferenceMetrics(
  app: FastifyInstance,
  { metrics }: InferenceMetricsPluginOptions,
): Promise<void> {
  app.addHook(
    'preSerialization',
    async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
      if (request.routeOptions.url !== DIAGNOSE_ROUTE || reply.statusCode !== 200) return payload;
      if (isDiagnosis(payload)) metrics.diagnosis(payload.label, payload.model);
      return payload;
    },
  );
}

// fastify-plugin: the hook must reach the diagnose route, registered in its own context.
export const inferenceMetricsPlugin = fp(inferenceMetrics, {
  name: 'inference-metrics',
  fastify: '5.x',
});
