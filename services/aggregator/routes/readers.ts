import type { FastifyPluginAsync } from 'fastify';
import type { Prisma, ReaderToken } from '../../../shared/db/index.ts';
import { HttpError } from '../../../shared/service/errors.ts';
import { audit } from '../lib/audit.ts';
import { issueToken, rotateToken } from '../lib/rotating-token.ts';
import { readerView } from '../lib/views.ts';
import type { AggregatorContext } from '../plugins/context.ts';
import {
  BEARER_SECURITY,
  IdParamsSchema,
  type IdParams,
  errorResponses,
} from '../schemas/common.ts';
import { RotateTokenBodySchema, type RotateTokenBody } from '../schemas/hospitals.ts';
import {
  CreateReaderBodySchema,
  ReaderCreatedSchema,
  ReaderListSchema,
  ReaderTokenRotatedSchema,
  ReaderViewSchema,
  type CreateReaderBody,
  type ReaderCreated,
  type ReaderList,
  type ReaderTokenRotated,
  type ReaderView,
} from '../schemas/readers.ts';

/** The reader's row, or 404. */
async function findReader(
  db: Pick<Prisma.TransactionClient, 'readerToken'>,
  id: string,
): Promise<ReaderToken> {
  const reader = await db.readerToken.findUnique({ where: { id } });
  if (!reader) throw new HttpError(404, 'reader-not-found', `no reader ${id}`);
  return reader;
}

/**
 * Reader tokens: read-only bearer tokens for services that only download models (the inference
 * API's AGGREGATOR_TOKEN), issued and rotated like a hospital's. Admin only.
 */
export const readerRoutes: FastifyPluginAsync<{ ctx: AggregatorContext }> = async (
  app,
  { ctx },
) => {
  const requireAdmin = ctx.auth.requireAdmin.bind(ctx.auth);

  app.post<{ Body: CreateReaderBody; Reply: ReaderCreated }>(
    '/readers',
    {
      onRequest: requireAdmin,
      schema: {
        summary: 'Issue a read-only token; answers it, once',
        description:
          'For a service that only reads models, such as the inference API (its ' +
          'AGGREGATOR_TOKEN): the token downloads weights (GET /models/{id}/weights, audited ' +
          "with actor reader:<id>, never counted against a run's S_max) and answers 403 on " +
          'every other route that needs a token. Only its SHA-256 is kept, so it cannot be ' +
          'shown again. The name is unique among all readers, revoked ones included (409 ' +
          'reader-exists). Audited as reader.issued.',
        tags: ['readers'],
        security: BEARER_SECURITY,
        body: CreateReaderBodySchema,
        response: {
          201: ReaderCreatedSchema,
          ...errorResponses(400, 401, 403, 409),
        },
      },
    },
    async (request, reply) => {
      const name = request.body.name.trim();
      const { row, token } = await issueToken(
        ctx.prisma,
        { subjectType: 'reader', action: 'reader.issued', details: { name } },
        (tx, tokenHash) => tx.readerToken.create({ data: { name, tokenHash } }),
        () => new HttpError(409, 'reader-exists', `a reader named "${name}" exists`),
      );
      return reply.status(201).send({ id: row.id, name, token });
    },
  );

  app.get<{ Reply: ReaderList }>(
    '/readers',
    {
      onRequest: requireAdmin,
      schema: {
        summary: 'The reader tokens, revoked ones included (no token or hash)',
        tags: ['readers'],
        security: BEARER_SECURITY,
        response: { 200: ReaderListSchema, ...errorResponses(401, 403) },
      },
    },
    async () => {
      const readers = await ctx.prisma.readerToken.findMany({ orderBy: { name: 'asc' } });
      const now = ctx.now();
      return { readers: readers.map((r) => readerView(r, now)) };
    },
  );

  app.post<{ Params: IdParams; Body: RotateTokenBody; Reply: ReaderTokenRotated }>(
    '/readers/:id/token',
    {
      onRequest: requireAdmin,
      // The body is optional: none is an empty one.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        summary: "Rotate a reader's token; answers the new token, once",
        description:
          'Issues a new token and keeps only its SHA-256. With graceSeconds (0 to 604800, ' +
          'default 0) the token being replaced stays valid until previousTokenExpiresAt, so ' +
          'its holder can be given the new one (the inference API re-reads ' +
          'AGGREGATOR_TOKEN_FILE; AGGREGATOR_TOKEN needs a restart) without a failed ' +
          'download: both tokens are accepted and each request with the old one is logged. ' +
          'Only one previous token is kept: rotating again during the grace replaces it with ' +
          'the token just replaced. With graceSeconds 0 the old token answers 401 at once. A ' +
          'revoked reader cannot be rotated (409 reader-revoked). Audited as ' +
          'reader.token-rotated with graceSeconds, without any token or hash.',
        tags: ['readers'],
        security: BEARER_SECURITY,
        params: IdParamsSchema,
        body: RotateTokenBodySchema,
        response: {
          200: ReaderTokenRotatedSchema,
          ...errorResponses(400, 401, 403, 404, 409),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const rotation = { graceSeconds: request.body.graceSeconds ?? 0, now: ctx.now() };
      return rotateToken(ctx.prisma, 'reader', rotation, async (tx, columns) => {
        const before = await findReader(tx, id);
        if (before.revokedAt !== null) {
          throw new HttpError(409, 'reader-revoked', `reader ${before.name} is revoked`);
        }
        return tx.readerToken.update({ where: { id }, data: columns(before) });
      });
    },
  );

  app.delete<{ Params: IdParams; Reply: ReaderView }>(
    '/readers/:id',
    {
      onRequest: requireAdmin,
      schema: {
        summary: 'Revoke a reader: its tokens answer 401 from now on',
        description:
          'Sets revokedAt and drops a previous token still in its grace: both the current ' +
          'and the previous token answer 401 at once. The row stays (GET /readers lists it ' +
          'with revokedAt; its name is not free again) and cannot be rotated or restored: ' +
          'issue a new reader instead. Revoking a revoked reader changes nothing and is not ' +
          'audited again. Audited as reader.revoked.',
        tags: ['readers'],
        security: BEARER_SECURITY,
        params: IdParamsSchema,
        response: {
          200: ReaderViewSchema,
          ...errorResponses(401, 403, 404),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const now = ctx.now();
      const reader = await ctx.prisma.$transaction(async (tx) => {
        const before = await findReader(tx, id);
        if (before.revokedAt !== null) return before;
        const revoked = await tx.readerToken.update({
          where: { id },
          data: { revokedAt: new Date(now), previousTokenHash: null, previousTokenExpiresAt: null },
        });
        await audit(tx, {
          actor: 'admin',
          action: 'reader.revoked',
          subjectType: 'reader',
          subjectId: id,
          details: { name: revoked.name },
        });
        return revoked;
      });
      return readerView(reader, now);
    },
  );
};
