import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Hospital, PrismaClient } from '../../../shared/db/index.ts';
import { bearerToken, hashToken, secretsEqual } from '../../../shared/service/auth.ts';
import { HttpError } from '../../../shared/service/errors.ts';
import type { Actor } from './audit.ts';

export type Principal = { kind: 'admin' } | { kind: 'hospital'; hospital: Hospital };

export function actorOf(principal: Principal): Actor {
  return principal.kind === 'admin' ? 'admin' : `hospital:${principal.hospital.id}`;
}

/**
 * Bearer tokens: the admin token (ADMIN_TOKEN) or a hospital's token, found by its hash (only
 * hashes are stored). A missing or unknown token answers 401, a known token on a route not
 * meant for it 403.
 */
export class Authenticator {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly adminToken: string,
  ) {}

  /** Who sent the request; throws 401 without a valid token. */
  async identify(request: FastifyRequest, reply: FastifyReply): Promise<Principal> {
    const token = bearerToken(request);
    if (token !== undefined) {
      if (secretsEqual(token, this.adminToken)) return { kind: 'admin' };
      const hospital = await this.prisma.hospital.findFirst({
        where: { tokenHash: hashToken(token) },
      });
      if (hospital) {
        if (hospital.status !== 'active') {
          throw new HttpError(403, 'hospital-disabled', `hospital ${hospital.name} is disabled`);
        }
        return { kind: 'hospital', hospital };
      }
    }
    reply.header('www-authenticate', 'Bearer');
    throw new HttpError(
      401,
      'unauthorized',
      token === undefined
        ? 'this route needs Authorization: Bearer <token>'
        : 'the bearer token is not valid',
    );
  }

  async requireAdmin(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const principal = await this.identify(request, reply);
    if (principal.kind !== 'admin') {
      throw new HttpError(403, 'forbidden', 'this route needs the admin token');
    }
  }

  async requireHospital(request: FastifyRequest, reply: FastifyReply): Promise<Hospital> {
    const principal = await this.identify(request, reply);
    if (principal.kind !== 'hospital') {
      throw new HttpError(403, 'forbidden', "this route needs a hospital's token");
    }
    return principal.hospital;
  }
}
