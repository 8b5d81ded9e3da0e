import type { FastifyPluginAsync } from 'fastify';
import { Prisma, type Hospital } from '../../../shared/db/index.ts';
import { HttpError } from '../../../shared/service/errors.ts';
import { audit } from '../lib/audit.ts';
import { issueToken, previousTokenExpiry, rotateToken } from '../lib/rotating-token.ts';
import { hospitalView } from '../lib/views.ts';
import type { AggregatorContext } from '../plugins/context.ts';
import {
  BEARER_SECURITY,
  IdParamsSchema,
  type IdParams,
  errorResponses,
} from '../schemas/common.ts';
import {
  CreateHospitalBodySchema,
  HospitalCreatedSchema,
  HospitalListSchema,
  HospitalTokenRotatedSchema,
  HospitalViewSchema,
  RotateTokenBodySchema,
  UpdateHospitalBodySchema,
  type CreateHospitalBody,
  type HospitalCreated,
  type HospitalList,
  type HospitalTokenRotated,
  type HospitalView,
  type RotateTokenBody,
  type UpdateHospitalBody,
} from '../schemas/hospitals.ts';

const notFound = (id: string): HttpError =>
  new HttpError(404, 'hospital-not-found', `no hospital ${id}`);

/** The hospital's row, or 404. */
async function findHospital(
  db: Pick<Prisma.TransactionClient, 'hospital'>,
  id: string,
): Promise<Hospital> {
  const hospital = await db.hospital.findUnique({ where: { id } });
  if (!hospital) throw notFound(id);
  return hospital;
}

export const hospitalRoutes: FastifyPluginAsync<{ ctx: AggregatorContext }> = async (
  app,
  { ctx },
) => {
  const requireAdmin = ctx.auth.requireAdmin.bind(ctx.auth);

  app.post<{ Body: CreateHospitalBody; Reply: HospitalCreated }>(
    '/hospitals',
    {
      onRequest: requireAdmin,
      schema: {
        summary: 'Register a hospital node; answers its token, once',
        description:
          "The token is the node's HOSPITAL_TOKEN; only its SHA-256 is kept, so it cannot be " +
          'shown again. Requests to the node are signed with that hash (x-fedxray-signature).',
        tags: ['hospitals'],
        security: BEARER_SECURITY,
        body: CreateHospitalBodySchema,
        response: {
          201: HospitalCreatedSchema,
          ...errorResponses(400, 401, 403, 409),
        },
      },
    },
    async (request, reply) => {
      const name = request.body.name.trim();
      const baseUrl = normaliseBaseUrl(request.body.baseUrl);
      const { row, token } = await issueToken(
        ctx.prisma,
        { subjectType: 'hospital', action: 'hospital.registered', details: { name, baseUrl } },
        (tx, tokenHash) => tx.hospital.create({ data: { name, baseUrl, tokenHash } }),
        () => new HttpError(409, 'hospital-exists', `a hospital named "${name}" is registered`),
      );
      return reply.status(201).send({ id: row.id, name, baseUrl, token });
    },
  );

  app.get<{ Reply: HospitalList }>(
    '/hospitals',
    {
      onRequest: requireAdmin,
      schema: {
        summary: 'The registered hospitals (no token data)',
        tags: ['hospitals'],
        security: BEARER_SECURITY,
        response: { 200: HospitalListSchema, ...errorResponses(401, 403) },
      },
    },
    async () => {
      const hospitals = await ctx.prisma.hospital.findMany({ orderBy: { name: 'asc' } });
      const now = ctx.now();
      return { hospitals: hospitals.map((h) => hospitalView(h, now)) };
    },
  );

  app.get<{ Params: IdParams; Reply: HospitalView }>(
    '/hospitals/:id',
    {
      onRequest: requireAdmin,
      schema: {
        summary: 'A registered hospital (no token data)',
        tags: ['hospitals'],
        security: BEARER_SECURITY,
        params: IdParamsSchema,
        response: {
          200: HospitalViewSchema,
          ...errorResponses(401, 403, 404),
        },
      },
    },
    async (request) => hospitalView(await findHospital(ctx.prisma, request.params.id), ctx.now()),
  );

  app.patch<{ Params: IdParams; Body: UpdateHospitalBody; Reply: HospitalView }>(
    '/hospitals/:id',
    {
      onRequest: requireAdmin,
      schema: {
        summary: "Disable or enable a hospital, or change its node's base URL",
        description:
          'At least one of status, baseUrl. A disabled hospital keeps its history and token ' +
          'hash, but its token answers 403 hospital-disabled on every route (updates, weight ' +
          'downloads) and it is not selected for new rounds; a round it is already part of goes ' +
          'on without it. Disabling also drops a previous token still in its grace (401 from ' +
          'then on). status active enables it again with the same token. A new baseUrl is ' +
          'used from the next round on. Each change is audited (hospital.disabled, ' +
          'hospital.enabled, hospital.base-url-changed); setting a field to its current value ' +
          'changes nothing and is not audited.',
        tags: ['hospitals'],
        security: BEARER_SECURITY,
        params: IdParamsSchema,
        body: UpdateHospitalBodySchema,
        response: {
          200: HospitalViewSchema,
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { status } = request.body;
      const baseUrl =
        request.body.baseUrl === undefined ? undefined : normaliseBaseUrl(request.body.baseUrl);
      const hospital = await ctx.prisma.$transaction(async (tx) => {
        const before = await findHospital(tx, id);
        const data: Prisma.HospitalUpdateInput = {};
        if (status !== undefined && status !== before.status) data.status = status;
        if (baseUrl !== undefined && baseUrl !== before.baseUrl) data.baseUrl = baseUrl;
        if (Object.keys(data).length === 0) return before;
        // Disabling ends a rotation's grace: the previous token is dropped, not kept for
        // when the hospital is enabled again.
        const revoked = data.status === 'disabled' ? previousTokenExpiry(before, ctx.now()) : null;
        if (data.status === 'disabled' && before.previousTokenHash !== null) {
          data.previousTokenHash = null;
          data.previousTokenExpiresAt = null;
        }
        const after = await tx.hospital.update({ where: { id }, data });
        if (data.status !== undefined) {
          await audit(tx, {
            actor: 'admin',
            action: after.status === 'disabled' ? 'hospital.disabled' : 'hospital.enabled',
            subjectType: 'hospital',
            subjectId: id,
            details: {
              name: after.name,
              from: before.status,
              to: after.status,
              // A previous token that was still accepted until then.
              ...(revoked !== null ? { previousTokenRevoked: revoked } : {}),
            },
          });
        }
        if (data.baseUrl !== undefined) {
          await audit(tx, {
            actor: 'admin',
            action: 'hospital.base-url-changed',
            subjectType: 'hospital',
            subjectId: id,
            details: { name: after.name, from: before.baseUrl, to: after.baseUrl },
          });
        }
        return after;
      });
      return hospitalView(hospital, ctx.now());
    },
  );

  app.post<{ Params: IdParams; Body: RotateTokenBody; Reply: HospitalTokenRotated }>(
    '/hospitals/:id/token',
    {
      onRequest: requireAdmin,
      // The body is optional: none is an empty one.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        summary: "Rotate a hospital's token; answers the new token, once",
        description:
          'Issues a new token and keeps only its SHA-256. With graceSeconds (0 to 604800, ' +
          'default 0) the token being replaced stays valid until previousTokenExpiresAt, so ' +
          'its node can be given the new one (written to its HOSPITAL_TOKEN_FILE, or ' +
          'HOSPITAL_TOKEN and a restart) within that window ' +
          'without downtime: both tokens are accepted, each request with the old one is ' +
          'logged, and a signed request the node refuses is sent again signed with the old ' +
          "token's hash. Only one previous token is kept: rotating again during the grace " +
          'replaces it with the token just replaced. With graceSeconds 0 the old token answers ' +
          '401 at once and the node must be restarted with the new token at the same moment: ' +
          'until then it cannot upload or download, and it refuses the signed POST /train and ' +
          'POST /evaluate (the dispatch fails with "signature does not match"). Works on a ' +
          'disabled hospital too (its new token answers 403 until it is enabled), but keeps ' +
          'no previous token there: graceSeconds has no effect. Audited as ' +
          'hospital.token-rotated with graceSeconds, without any token or hash.',
        tags: ['hospitals'],
        security: BEARER_SECURITY,
        params: IdParamsSchema,
        body: RotateTokenBodySchema,
        response: {
          200: HospitalTokenRotatedSchema,
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const rotation = { graceSeconds: request.body.graceSeconds ?? 0, now: ctx.now() };
      return rotateToken(ctx.prisma, 'hospital', rotation, async (tx, columns) => {
        const before = await findHospital(tx, id);
        // Only one previous token: the one just replaced, or none without a grace. A disabled
        // hospital keeps none (its token may have leaked; disabling dropped any grace too).
        return tx.hospital.update({
          where: { id },
          data: columns(before, before.status === 'active'),
        });
      });
    },
  );
};

/** Trailing slashes removed: the client appends routes to it. */
function normaliseBaseUrl(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '');
}
