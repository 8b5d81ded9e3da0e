import type { FastifyPluginAsync } from 'fastify';
import { PublicError } from '../lib/errors.ts';
import { resolveModelInput } from '../lib/plan.ts';
import type { HospitalContext } from '../plugins/hospital.ts';
import { BEARER_SECURITY, errorResponses } from '../schemas/common.ts';
import {
  EvaluateRequestSchema,
  EvaluationSchema,
  type EvaluateRequest,
  type Evaluation,
} from '../schemas/evaluate.ts';
import { toHttpError } from './http-errors.ts';

export const evaluateRoutes: FastifyPluginAsync<{ ctx: HospitalContext }> = async (
  app,
  { ctx },
) => {
  const closing = new AbortController();
  app.addHook('onClose', async () =>
    closing.abort(new PublicError('cancelled', 'cancelled: the hospital node is shutting down')),
  );

  app.post<{ Body: EvaluateRequest; Reply: Evaluation }>(
    '/evaluate',
    {
      onRequest: ctx.requireToken,
      schema: {
        summary: "Score a model on this node's patient-level validation split",
        description:
          'Only the metrics leave the node, with a histogram of class counts per score bin ' +
          'and, for temperature scaling, the NLL and reliability-bin sums at a grid of ' +
          'temperatures (no image, id or per-image score). PNEUMONIA is the positive class.',
        tags: ['hospital'],
        security: BEARER_SECURITY,
        body: EvaluateRequestSchema,
        response: {
          200: EvaluationSchema,
          ...errorResponses(400, 401, 409, 422, 502),
        },
      },
    },
    async (request) => {
      try {
        const { spec, preprocessing } = resolveModelInput(request.body);
        const { model } = request.body;
        const weights = await ctx.client.downloadWeights(model.id, model.sha256, closing.signal);
        return await ctx.engine.evaluate(
          spec,
          weights,
          preprocessing,
          request.body.threshold ?? 0.5,
        );
      } catch (error) {
        throw toHttpError(error, ctx.describeError);
      }
    },
  );
};
