import type { FastifyPluginAsync } from 'fastify';
import { HttpError } from '../../../shared/service/errors.ts';
import { planTraining, type TrainPlan } from '../lib/plan.ts';
import type { HospitalContext } from '../plugins/hospital.ts';
import { BEARER_SECURITY, ErrorResponse, errorResponses } from '../schemas/common.ts';
import { JobViewSchema, type JobView } from '../schemas/job.ts';
import {
  CancelJobBodySchema,
  JobParamsSchema,
  TrainAcceptedSchema,
  TrainRequestSchema,
  type CancelJobBody,
  type JobParams,
  type TrainAccepted,
  type TrainRequest,
} from '../schemas/train.ts';
import { toHttpError } from './http-errors.ts';

export const trainRoutes: FastifyPluginAsync<{ ctx: HospitalContext }> = async (app, { ctx }) => {
  app.post<{ Body: TrainRequest; Reply: TrainAccepted }>(
    '/train',
    {
      onRequest: ctx.requireToken,
      schema: {
        summary: 'Start one round of local training (download, train, push the update)',
        description:
          'Answers at once with the job id. One job at a time: a request for another run or ' +
          'round while a job runs is refused (409); one that repeats the running job exactly ' +
          'answers its id, and so does repeating a finished job of the same run and round. ' +
          'The same run and round with other settings (the aggregator restarted the round) ' +
          'cancels the running job (failed, "superseded") and starts the new one.',
        tags: ['hospital'],
        security: BEARER_SECURITY,
        body: TrainRequestSchema,
        response: {
          202: TrainAcceptedSchema,
          ...errorResponses(400, 401, 409, 503),
        },
      },
    },
    async (request, reply) => {
      let plan: TrainPlan;
      try {
        plan = planTraining(request.body);
      } catch (error) {
        throw toHttpError(error, ctx.describeError);
      }
      const result = ctx.jobs.submit(plan);
      switch (result.kind) {
        case 'started':
        case 'existing':
          return reply.status(202).send({ jobId: result.jobId });
        case 'busy':
          throw new HttpError(
            409,
            'busy',
            `a training job is already running (${result.jobId}); one job at a time`,
            { jobId: result.jobId },
          );
        case 'closing':
          throw new HttpError(503, 'closing', 'the hospital node is shutting down');
      }
    },
  );

  app.get<{ Params: JobParams; Reply: JobView }>(
    '/train/:jobId',
    {
      schema: {
        summary: 'A training job: status, progress, metrics, error',
        tags: ['hospital'],
        params: JobParamsSchema,
        response: { 200: JobViewSchema, 404: ErrorResponse },
      },
    },
    async (request) => {
      const job = ctx.jobs.get(request.params.jobId);
      if (!job) throw new HttpError(404, 'job-not-found', 'no such training job');
      return job;
    },
  );

  app.post<{ Params: JobParams; Body: CancelJobBody; Reply: JobView }>(
    '/train/:jobId/cancel',
    {
      onRequest: ctx.requireToken,
      // The body is optional: none is an empty one.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        summary: 'Stop a running training job (its run was cancelled at the aggregator)',
        description:
          'Signed like POST /train. Stops the job within one training step or request and ' +
          'answers it once stopped: failed, "cancelled: the aggregator cancelled the run"; ' +
          'nothing more is uploaded. 409 job-not-running for a finished job.',
        tags: ['hospital'],
        security: BEARER_SECURITY,
        params: JobParamsSchema,
        body: CancelJobBodySchema,
        response: {
          200: JobViewSchema,
          ...errorResponses(401, 404, 409),
        },
      },
    },
    async (request) => {
      const result = await ctx.jobs.cancel(request.params.jobId);
      switch (result.kind) {
        case 'cancelled':
          return result.job;
        case 'not-running':
          throw new HttpError(
            409,
            'job-not-running',
            `the training job is not running (${result.job.status}); nothing to cancel`,
            { status: result.job.status },
          );
        case 'not-found':
          throw new HttpError(404, 'job-not-found', 'no such training job');
      }
    },
  );
};
