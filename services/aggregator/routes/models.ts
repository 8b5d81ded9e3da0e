import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Value } from '@sinclair/typebox/value';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { TemperatureCalibrationSchema } from '../../../shared/protocol/calibration.ts';
import { reliabilityChartSvg } from '../../../shared/report/index.ts';
import { HttpError } from '../../../shared/service/errors.ts';
import { WEIGHTS_MEDIA_TYPE } from '../../../shared/weights/index.ts';
import { audit } from '../lib/audit.ts';
import { actorOf } from '../lib/auth.ts';
import { recordHospitalDownload } from '../lib/downloads.ts';
import { CANDIDATE_PREFIX } from '../lib/evaluation.ts';
import type { ModelStore } from '../lib/model-store.ts';
import { promoteModel } from '../lib/model-versions.ts';
import { modelView } from '../lib/views.ts';
import type { AggregatorContext } from '../plugins/context.ts';
import {
  BEARER_SECURITY,
  ErrorResponse,
  IdParamsSchema,
  type IdParams,
  errorResponses,
} from '../schemas/common.ts';
import {
  ModelListSchema,
  ModelViewSchema,
  type ModelList,
  type ModelView,
} from '../schemas/models.ts';

export const modelRoutes: FastifyPluginAsync<{ ctx: AggregatorContext }> = async (app, { ctx }) => {
  const notFound = (id: string): HttpError =>
    new HttpError(404, 'model-not-found', `no model ${id}`);

  app.get<{ Reply: ModelList }>(
    '/models',
    {
      schema: {
        summary: 'Model versions, newest first (at most 200)',
        tags: ['models'],
        response: { 200: ModelListSchema },
      },
    },
    async () => {
      const models = await ctx.prisma.modelVersion.findMany({
        orderBy: { version: 'desc' },
        take: 200,
      });
      return { models: models.map(modelView) };
    },
  );

  app.get<{ Reply: ModelView }>(
    '/models/production',
    {
      schema: {
        summary: 'The production model (what the inference-api serves)',
        tags: ['models'],
        response: { 200: ModelViewSchema, 404: ErrorResponse },
      },
    },
    async () => {
      const model = await ctx.prisma.modelVersion.findFirst({
        where: { stage: 'production' },
        orderBy: { version: 'desc' },
      });
      if (!model) throw new HttpError(404, 'no-production-model', 'no model is in production yet');
      return modelView(model);
    },
  );

  app.get<{ Params: IdParams; Reply: ModelView }>(
    '/models/:id',
    {
      schema: {
        summary: 'A model version: architecture, preprocessing, threshold, metrics, sha256, stage',
        tags: ['models'],
        params: IdParamsSchema,
        response: { 200: ModelViewSchema, 404: ErrorResponse },
      },
    },
    async (request) => {
      const model = await ctx.prisma.modelVersion.findUnique({ where: { id: request.params.id } });
      if (!model) throw notFound(request.params.id);
      return modelView(model);
    },
  );

  app.get<{ Params: IdParams }>(
    '/models/:id/reliability.svg',
    {
      schema: {
        summary: "A model's reliability diagram before and after temperature scaling (SVG)",
        description:
          'From metadata.calibration: per bin of P(PNEUMONIA), the share of PNEUMONIA on the ' +
          "hospitals' pooled validation splits against the bin's mean probability, at T = 1 and " +
          'at the fitted temperature, with each ECE. 404 `no-calibration` for a model without one.',
        tags: ['models'],
        params: IdParamsSchema,
        produces: ['image/svg+xml'],
        response: {
          200: { description: 'SVG image', type: 'string' },
          ...errorResponses(404),
        },
      },
    },
    async (request, reply) => {
      const model = await ctx.prisma.modelVersion.findUnique({ where: { id: request.params.id } });
      if (!model) throw notFound(request.params.id);
      const calibration = (model.metadata as { calibration?: unknown } | null)?.calibration;
      if (!Value.Check(TemperatureCalibrationSchema, calibration)) {
        throw new HttpError(
          404,
          'no-calibration',
          `model ${model.id} has no temperature scaling (its hospitals answered no NLL curves)`,
        );
      }
      return reply.type('image/svg+xml').send(reliabilityChartSvg(calibration));
    },
  );

  app.get<{ Params: IdParams }>(
    '/models/:id/weights',
    {
      schema: {
        summary: "A model's packed weights (application/vnd.fedxray.weights)",
        description:
          "Needs a token. A hospital's download is recorded and, for a model of a run in " +
          "progress, counted against the run's S_max (403 download-limit beyond it); the " +
          "admin token's and a reader token's (POST /readers) are audited, never counted. " +
          "The x-fedxray-sha256 header is the model's sha256.",
        tags: ['models'],
        security: BEARER_SECURITY,
        params: IdParamsSchema,
        produces: [WEIGHTS_MEDIA_TYPE],
        response: {
          200: { description: 'packed weights', type: 'string', format: 'binary' },
          ...errorResponses(401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const principal = await ctx.auth.identify(request, reply);
      const { id } = request.params;
      if (id.startsWith(CANDIDATE_PREFIX) && principal.kind === 'hospital') {
        const candidate = ctx.grants.find(id, principal.hospital.id);
        if (!candidate) throw notFound(id);
        const file = await weightsFile(ctx.store, candidate.storagePath);
        await audit(ctx.prisma, {
          actor: actorOf(principal),
          action: 'model.downloaded',
          subjectType: 'model',
          subjectId: id,
          details: { purpose: 'evaluation', sha256: candidate.sha256 },
        });
        return sendWeights(reply, file, candidate.sha256);
      }
      const model = await ctx.prisma.modelVersion.findUnique({ where: { id } });
      if (!model) throw notFound(id);
      const file = await weightsFile(ctx.store, model.storagePath);
      if (principal.kind === 'hospital') {
        await recordHospitalDownload(ctx.prisma, principal.hospital, model);
      } else {
        // The admin token or a reader's (the inference API's): audited, never counted.
        await audit(ctx.prisma, {
          actor: actorOf(principal),
          action: 'model.downloaded',
          subjectType: 'model',
          subjectId: id,
          details: { counted: false },
        });
      }
      return sendWeights(reply, file, model.sha256);
    },
  );

  app.post<{ Params: IdParams; Reply: ModelView }>(
    '/models/:id/promote',
    {
      onRequest: ctx.auth.requireAdmin.bind(ctx.auth),
      schema: {
        summary: 'Put a model into production (the previous one is archived)',
        tags: ['models'],
        security: BEARER_SECURITY,
        params: IdParamsSchema,
        response: {
          200: ModelViewSchema,
          ...errorResponses(401, 403, 404),
        },
      },
    },
    async (request) => {
      const model = await ctx.prisma.$transaction((tx) =>
        promoteModel(tx, request.params.id, 'admin'),
      );
      return modelView(model);
    },
  );
};

/** The stored file, checked before a download is recorded. */
async function weightsFile(
  store: ModelStore,
  storagePath: string,
): Promise<{ path: string; size: number }> {
  const file = store.absolute(storagePath);
  const info = await stat(file).catch(() => undefined);
  if (!info)
    throw new HttpError(500, 'weights-missing', `the weights file ${storagePath} is missing`);
  return { path: file, size: info.size };
}

function sendWeights(
  reply: FastifyReply,
  file: { path: string; size: number },
  sha256: string,
): FastifyReply {
  return reply
    .type(WEIGHTS_MEDIA_TYPE)
    .header('content-length', file.size)
    .header('x-fedxray-sha256', sha256)
    .send(createReadStream(file.path));
}
