import type { FastifyInstance } from 'fastify';
import { ERROR_RESPONSE_SCHEMA } from '../../../shared/service/create-app.ts';
import { HttpError } from '../../../shared/service/errors.ts';
import { noModel } from '../lib/errors.ts';
import type { InFlightLimit } from '../lib/in-flight.ts';
import type { ModelService } from '../lib/model-service.ts';
import type { OperatingPointStore } from '../lib/operating-point.ts';
import { modelRef, ModelInfoSchema, type ModelInfo } from '../schemas/model.ts';
import { ReadySchema, type Ready } from '../schemas/ready.ts';

export interface ModelRoutesOptions {
  models: ModelService;
  /** POST /diagnose's cap on requests in flight, reported by /ready. */
  inFlight: InFlightLimit;
  /** The site's threshold for the loaded model, if it set one. */
  operatingPoints: OperatingPointStore;
}

export async function modelRoutes(
  app: FastifyInstance,
  { models, inFlight, operatingPoints }: ModelRoutesOptions,
): Promise<void> {
  app.get(
    '/models/current',
    {
      schema: {
        summary: 'The model answering /diagnose',
        description:
          "`threshold` is the one /diagnose labels with: the site's operating point for this " +
          "model when one is set (`thresholdSource: 'site'`), else the model's own (`modelThreshold`).",
        tags: ['inference'],
        response: { 200: ModelInfoSchema, 404: ERROR_RESPONSE_SCHEMA },
      },
    },
    async (): Promise<ModelInfo> => {
      const current = models.current;
      if (!current)
        throw new HttpError(404, 'no-model', 'no model is loaded yet', { ...models.status });
      return operatingPoints.describe(current.info);
    },
  );

  app.get(
    '/ready',
    {
      schema: {
        summary: 'Readiness: 200 only once a model is loaded',
        description:
          'Also reports the POST /diagnose requests in flight and their cap ' +
          '(MAX_CONCURRENT_DIAGNOSES); a service at its cap is still ready.',
        tags: ['service'],
        response: { 200: ReadySchema, 503: ERROR_RESPONSE_SCHEMA },
      },
    },
    async (): Promise<Ready> => {
      const current = models.current;
      if (!current) throw noModel({ ...models.status });
      return {
        ready: true,
        model: modelRef(current.info),
        inFlight: inFlight.count,
        maxConcurrentDiagnoses: inFlight.max,
      };
    },
  );
}
