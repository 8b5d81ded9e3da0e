import type { FastifyPluginAsync } from 'fastify';
import { HttpError } from '../../../shared/service/errors.ts';
import { audit } from '../lib/audit.ts';
import { resolveRunSettings } from '../lib/run-settings.ts';
import { runSummary } from '../lib/views.ts';
import type { AggregatorContext } from '../plugins/context.ts';
import {
  BEARER_SECURITY,
  ErrorResponse,
  IdParamsSchema,
  type IdParams,
  errorResponses,
} from '../schemas/common.ts';
import {
  CancelRunBodySchema,
  RunCreatedSchema,
  RunDetailSchema,
  RunListSchema,
  StartRunBodySchema,
  type CancelRunBody,
  type RunDetail,
  type RunList,
  type StartRunBody,
} from '../schemas/runs.ts';
import { loadRunDetail } from '../lib/run-detail.ts';

export const roundRoutes: FastifyPluginAsync<{ ctx: AggregatorContext }> = async (app, { ctx }) => {
  app.post<{ Body: StartRunBody; Reply: { id: string } }>(
    '/rounds',
    {
      onRequest: ctx.auth.requireAdmin.bind(ctx.auth),
      schema: {
        summary: 'Start a federated training run',
        description:
          'Answers at once; the run goes on in the background (GET /rounds/{id}, ' +
          '/rounds/{id}/events). One run at a time: 409 while another is pending or running.',
        tags: ['rounds'],
        security: BEARER_SECURITY,
        body: StartRunBodySchema,
        response: {
          202: RunCreatedSchema,
          ...errorResponses(400, 401, 403, 409),
        },
      },
    },
    async (request, reply) => {
      const settings = resolveRunSettings(request.body);
      const active = await ctx.prisma.trainingRun.findFirst({
        where: { status: { in: ['pending', 'running'] } },
      });
      if (active) {
        throw new HttpError(409, 'run-in-progress', `run ${active.id} is ${active.status}`, {
          runId: active.id,
        });
      }
      const run = await ctx.prisma.$transaction(async (tx) => {
        const created = await tx.trainingRun.create({
          data: { settings, promoteOnFinish: settings.promote },
        });
        await audit(tx, {
          actor: 'admin',
          action: 'run.created',
          subjectType: 'run',
          subjectId: created.id,
          details: settings,
        });
        return created;
      });
      ctx.coordinator.start(run.id);
      return reply.status(202).send({ id: run.id });
    },
  );

  app.get<{ Reply: RunList }>(
    '/rounds',
    {
      schema: {
        summary: 'Training runs, newest first (at most 100)',
        tags: ['rounds'],
        response: { 200: RunListSchema },
      },
    },
    async () => {
      const runs = await ctx.prisma.trainingRun.findMany({
        orderBy: { createdAt: 'desc' },
        take: 100,
      });
      return { runs: runs.map(runSummary) };
    },
  );

  app.get<{ Params: IdParams; Reply: RunDetail }>(
    '/rounds/:id',
    {
      schema: {
        summary: 'A run: status, settings, and each round with its hospitals and metrics',
        tags: ['rounds'],
        params: IdParamsSchema,
        response: { 200: RunDetailSchema, 404: ErrorResponse },
      },
    },
    async (request) => {
      const detail = await loadRunDetail(ctx.prisma, request.params.id);
      if (!detail)
        throw new HttpError(404, 'run-not-found', `no training run ${request.params.id}`);
      return detail;
    },
  );

  app.post<{ Params: IdParams; Body: CancelRunBody; Reply: RunDetail }>(
    '/rounds/:id/cancel',
    {
      onRequest: ctx.auth.requireAdmin.bind(ctx.auth),
      // The body is optional: none is an empty one.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        summary: 'Cancel a pending or running training run',
        description:
          'The round loop stops at once: the round in progress is cancelled (nothing is ' +
          'aggregated, no model version is made from it), its open updates fail, and the ' +
          'nodes still training it are asked to stop (POST /train/{jobId}/cancel, best ' +
          'effort); their late uploads are refused (409 round-closed). Models of completed ' +
          'rounds stay; nothing is promoted. Answers the run (as GET /rounds/{id}) once the ' +
          'loop has stopped. 409 run-finished for a run already completed, failed or cancelled.',
        tags: ['rounds'],
        security: BEARER_SECURITY,
        params: IdParamsSchema,
        body: CancelRunBodySchema,
        response: {
          200: RunDetailSchema,
          ...errorResponses(400, 401, 403, 404, 409),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const record = await ctx.coordinator.cancel(id, {
        actor: 'admin',
        reason: request.body.reason ?? null,
      });
      if (record.kind === 'not-found') {
        throw new HttpError(404, 'run-not-found', `no training run ${id}`);
      }
      if (record.kind === 'finished') {
        throw new HttpError(
          409,
          'run-finished',
          `run ${id} is already ${record.status}: only a pending or running run can be cancelled`,
          { runId: id, status: record.status },
        );
      }
      const detail = await loadRunDetail(ctx.prisma, id);
      if (!detail) throw new HttpError(404, 'run-not-found', `no training run ${id}`);
      return detail;
    },
  );
};
