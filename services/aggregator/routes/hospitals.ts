import type { FastifyPluginAsync } from 'fastify';
import { Prisma } from '../../../shared/db/index.ts';
import { generateToken, hashToken } from '../../../shared/service/auth.ts';
import { HttpError } from '../../../shared/service/errors.ts';
import { audit } from '../lib/audit.ts';
import { hospitalView } from '../lib/views.ts';
import type { AggregatorContext } from '../plugins/context.ts';
import { BEARER_SECURITY, ErrorResponse } from '../schemas/common.ts';
import {
  CreateHospitalBodySchema,
  HospitalCreatedSchema,
  HospitalListSchema,
  type CreateHospitalBody,
  type HospitalCreated,
  type HospitalList,
} from '../schemas/hospitals.ts';

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
          400: ErrorResponse,
          401: ErrorResponse,
          403: ErrorResponse,
          409: ErrorResponse,
        },
      },
    },
    async (request, reply) => {
      const name = request.body.name.trim();
      const baseUrl = request.body.baseUrl.replace(/\/+$/, '');
      const token = generateToken();
      try {
        const hospital = await ctx.prisma.$transaction(async (tx) => {
          const created = await tx.hospital.create({
            data: { name, baseUrl, tokenHash: hashToken(token) },
          });
          await audit(tx, {
            actor: 'admin',
            action: 'hospital.registered',
            subjectType: 'hospital',
            subjectId: created.id,
            details: { name, baseUrl },
          });
          return created;
        });
        return reply.status(201).send({ id: hospital.id, name, baseUrl, token });
      } catch (error) {
        if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
          throw new HttpError(409, 'hospital-exists', `a hospital named "${name}" is registered`);
        }
        throw error;
      }
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
        response: { 200: HospitalListSchema, 401: ErrorResponse, 403: ErrorResponse },
      },
    },
    async () => {
      const hospitals = await ctx.prisma.hospital.findMany({ orderBy: { name: 'asc' } });
      return { hospitals: hospitals.map(hospitalView) };
    },
  );
};
