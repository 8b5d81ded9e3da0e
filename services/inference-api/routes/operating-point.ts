/** PUT/DELETE /models/current/threshold: the site's operating point for the loaded model. */
import type { FastifyInstance } from 'fastify';
import { ERROR_RESPONSE_SCHEMA, errorResponses } from '../../../shared/service/create-app.ts';
import { HttpError } from '../../../shared/service/errors.ts';
import type { AdminAccess } from '../lib/admin-access.ts';
import type { LoadedModel } from '../lib/loaded-model.ts';
import type { ModelService } from '../lib/model-service.ts';
import type { OperatingPointStore } from '../lib/operating-point.ts';
import { ModelInfoSchema, type ModelInfo } from '../schemas/model.ts';
import {
  ClearThresholdQuerySchema,
  SetThresholdBodySchema,
  type ClearThresholdQuery,
  type SetThresholdBody,
} from '../schemas/operating-point.ts';

export interface OperatingPointRoutesOptions {
  models: ModelService;
  operatingPoints: OperatingPointStore;
  admin: AdminAccess;
}

const BEARER_SECURITY = [{ bearerAuth: [] }];

const RESPONSES = {
  200: ModelInfoSchema,
  ...errorResponses(400, 401),
  403: { ...ERROR_RESPONSE_SCHEMA, description: '`admin-disabled`: ADMIN_TOKEN is not set' },
  404: { ...ERROR_RESPONSE_SCHEMA, description: '`no-model`: no model is loaded' },
};

export async function operatingPointRoutes(
  app: FastifyInstance,
  { models, operatingPoints, admin }: OperatingPointRoutesOptions,
): Promise<void> {
  const current = (): LoadedModel => {
    const loaded = models.current;
    if (!loaded)
      throw new HttpError(404, 'no-model', 'no model is loaded yet', { ...models.status });
    return loaded;
  };

  app.put<{ Body: SetThresholdBody; Reply: ModelInfo }>(
    '/models/current/threshold',
    {
      onRequest: admin.onRequest,
      schema: {
        summary: "Set this site's decision threshold for the loaded model",
        description:
          'Needs `Authorization: Bearer <ADMIN_TOKEN>`. /diagnose then labels with this ' +
          'threshold while this model (its sha256) is loaded; another model keeps its own. ' +
          'Stored in STATE_DIR and appended to its audit file. `basis`: what the threshold ' +
          'was chosen on (fedxray accept sends it).',
        tags: ['inference'],
        security: BEARER_SECURITY,
        body: SetThresholdBodySchema,
        response: RESPONSES,
      },
    },
    async (request) => {
      const loaded = current();
      const entry = operatingPoints.set(loaded.info, request.body, admin.actor(request));
      request.log.info({ operatingPoint: entry }, 'site operating point set');
      return operatingPoints.describe(loaded.info);
    },
  );

  app.delete<{ Querystring: ClearThresholdQuery; Reply: ModelInfo }>(
    '/models/current/threshold',
    {
      onRequest: admin.onRequest,
      schema: {
        summary: "Go back to the loaded model's own threshold",
        description:
          'Needs `Authorization: Bearer <ADMIN_TOKEN>`. Removes the operating point set for ' +
          'the loaded model (audited, with the optional `reason`); without one, nothing changes.',
        tags: ['inference'],
        security: BEARER_SECURITY,
        querystring: ClearThresholdQuerySchema,
        response: RESPONSES,
      },
    },
    async (request) => {
      const loaded = current();
      const reason = request.query.reason ?? null;
      const entry = operatingPoints.clear(loaded.info, reason, admin.actor(request));
      if (entry) request.log.info({ operatingPoint: entry }, 'site operating point cleared');
      return operatingPoints.describe(loaded.info);
    },
  );
}
