import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import {
  NodeWorkAnswerSchema,
  NodeWorkQuerySchema,
  NodeWorkSchema,
  OUTBOUND_BASE_URL,
  type NodeWorkAnswer,
} from '../../../shared/protocol/node-work.ts';
import { HttpError } from '../../../shared/service/errors.ts';
import type { AggregatorContext } from '../plugins/context.ts';
import {
  BEARER_SECURITY,
  IdParamsSchema,
  type IdParams,
  errorResponses,
} from '../schemas/common.ts';

const DEFAULT_WAIT_SECONDS = 25;

/**
 * The work of outbound-only nodes (baseUrl `outbound:`): a node long-polls for the next
 * request the aggregator has for it and posts the answer back. Hospital tokens only.
 */
export const nodeWorkRoutes: FastifyPluginAsync<{ ctx: AggregatorContext }> = async (
  app,
  { ctx },
) => {
  const outboundHospital = async (
    ...args: Parameters<typeof ctx.auth.requireHospital>
  ): Promise<string> => {
    const hospital = await ctx.auth.requireHospital(...args);
    if (hospital.baseUrl !== OUTBOUND_BASE_URL) {
      throw new HttpError(
        409,
        'not-outbound',
        `hospital ${hospital.name} is registered with baseUrl ${hospital.baseUrl}: the ` +
          'aggregator calls it there; set its baseUrl to outbound: (PATCH /hospitals/{id}) to ' +
          'let it poll instead',
      );
    }
    return hospital.id;
  };

  app.get<{ Querystring: Static<typeof NodeWorkQuerySchema> }>(
    '/nodes/work',
    {
      schema: {
        summary: "An outbound-only node's next request (long poll)",
        description:
          'Waits up to waitSeconds (default 25) for a request the aggregator has for this ' +
          'hospital (POST /train, POST /evaluate, GET /health...: the same signed requests a ' +
          'reachable node gets over HTTP) and answers it, or 204 when none came. The node ' +
          'answers with POST /nodes/work/{id}. 409 `not-outbound` for a hospital with an ' +
          'http(s) baseUrl.',
        tags: ['hospitals'],
        security: BEARER_SECURITY,
        querystring: NodeWorkQuerySchema,
        response: {
          200: NodeWorkSchema,
          204: Type.Null(),
          ...errorResponses(401, 403, 409),
        },
      },
    },
    async (request, reply) => {
      const hospitalId = await outboundHospital(request, reply);
      const gone = new AbortController();
      request.raw.once('close', () => gone.abort());
      reply.raw.once('close', () => gone.abort());
      const waitMs = (request.query.waitSeconds ?? DEFAULT_WAIT_SECONDS) * 1000;
      await ctx.prisma.hospital.update({
        where: { id: hospitalId },
        data: { lastSeenAt: new Date() },
      });
      const work = await ctx.tunnel.next(hospitalId, waitMs, gone.signal);
      if (!work) return reply.status(204).send();
      return work;
    },
  );

  app.post<{ Params: IdParams; Body: NodeWorkAnswer }>(
    '/nodes/work/:id',
    {
      schema: {
        summary: "An outbound-only node's answer to a request",
        description:
          'The status, content type and body the node answered the request with. 404 ' +
          '`work-not-found` when the aggregator no longer waits for it (it timed out).',
        tags: ['hospitals'],
        security: BEARER_SECURITY,
        params: IdParamsSchema,
        body: NodeWorkAnswerSchema,
        response: { 204: Type.Null(), ...errorResponses(401, 404, 409) },
      },
    },
    async (request, reply) => {
      const hospitalId = await outboundHospital(request, reply);
      if (!ctx.tunnel.answer(hospitalId, request.params.id, request.body)) {
        throw new HttpError(404, 'work-not-found', `no request ${request.params.id} is waiting`);
      }
      return reply.status(204).send();
    },
  );
};
