import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Hospital, PrismaClient } from '../../../shared/db/index.ts';
import { bearerToken, hashesEqual, hashToken, secretsEqual } from '../../../shared/service/auth.ts';
import { HttpError } from '../../../shared/service/errors.ts';
import type { AdminTokenSource } from './admin-token.ts';
import type { Actor } from './audit.ts';

export type Principal = { kind: 'admin' } | { kind: 'hospital'; hospital: Hospital };

export function actorOf(principal: Principal): Actor {
  return principal.kind === 'admin' ? 'admin' : `hospital:${principal.hospital.id}`;
}

/**
 * Bearer tokens: the admin token (ADMIN_TOKEN or ADMIN_TOKEN_FILE, lib/admin-token.ts) or a
 * hospital's token, found by its hash (only hashes are stored). A hospital's previous token
 * (replaced by POST /hospitals/{id}/token with graceSeconds) is accepted until its expiry, and
 * each request made with it is logged at info (the hospital, never the token). A missing or
 * unknown token answers 401, a known token on a route not meant for it 403.
 */
export class Authenticator {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly admin: AdminTokenSource,
    /** Milliseconds clock for token expiry (tests); default Date.now. */
    private readonly now: () => number = Date.now,
  ) {}

  /** Who sent the request; throws 401 without a valid token. */
  async identify(request: FastifyRequest, reply: FastifyReply): Promise<Principal> {
    const token = bearerToken(request);
    if (token !== undefined) {
      const admin = this.admin.tokens();
      if (secretsEqual(token, admin.current)) return { kind: 'admin' };
      if (admin.previous !== undefined && secretsEqual(token, admin.previous)) {
        request.log.info(
          'authenticated with the previous admin token (ADMIN_TOKEN_FILE changed; accepted during ADMIN_TOKEN_GRACE_SECONDS)',
        );
        return { kind: 'admin' };
      }
      const hash = hashToken(token);
      const hospital = await this.prisma.hospital.findFirst({
        where: { OR: [{ tokenHash: hash }, { previousTokenHash: hash }] },
      });
      if (hospital) {
        const current = hashesEqual(hospital.tokenHash, hash);
        const expiresAt = hospital.previousTokenExpiresAt;
        const previous =
          !current &&
          hospital.previousTokenHash !== null &&
          hashesEqual(hospital.previousTokenHash, hash) &&
          expiresAt !== null &&
          expiresAt.getTime() > this.now();
        if (current || previous) {
          if (hospital.status !== 'active') {
            throw new HttpError(403, 'hospital-disabled', `hospital ${hospital.name} is disabled`);
          }
          if (previous) {
            request.log.info(
              {
                hospitalId: hospital.id,
                hospital: hospital.name,
                previousTokenExpiresAt: expiresAt?.toISOString(),
              },
              'hospital authenticated with its previous token (replaced by a rotation, accepted until previousTokenExpiresAt): give its node the new token',
            );
          }
          return { kind: 'hospital', hospital };
        }
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
