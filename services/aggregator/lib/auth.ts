import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Hospital, PrismaClient, ReaderToken } from '../../../shared/db/index.ts';
import { bearerToken, hashToken, secretsEqual } from '../../../shared/service/auth.ts';
import { HttpError } from '../../../shared/service/errors.ts';
import type { AdminTokenSource } from './admin-token.ts';
import type { Actor } from './audit.ts';
import { matchToken } from './rotating-token.ts';

export type Principal =
  | { kind: 'admin' }
  | { kind: 'hospital'; hospital: Hospital }
  | { kind: 'reader'; reader: ReaderToken };

export function actorOf(principal: Principal): Actor {
  switch (principal.kind) {
    case 'admin':
      return 'admin';
    case 'hospital':
      return `hospital:${principal.hospital.id}`;
    case 'reader':
      return `reader:${principal.reader.id}`;
  }
}

/**
 * Bearer tokens: the admin token (ADMIN_TOKEN or ADMIN_TOKEN_FILE, lib/admin-token.ts), a
 * hospital's token or a reader's (read-only: model weights, nothing else; POST /readers), each
 * of the last two found by its hash (only hashes are stored). A previous token (replaced by
 * POST /hospitals/{id}/token or POST /readers/{id}/token with graceSeconds) is accepted until
 * its expiry, and each request made with it is logged at info (the hospital or reader, never
 * the token). A revoked reader's tokens are unknown. A missing or unknown token answers 401, a
 * known token on a route not meant for it 403.
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
      const byHash = { OR: [{ tokenHash: hash }, { previousTokenHash: hash }] };
      const hospital = await this.prisma.hospital.findFirst({ where: byHash });
      const hospitalMatch = hospital ? matchToken(hospital, hash, this.now()) : undefined;
      if (hospital && hospitalMatch) {
        if (hospital.status !== 'active') {
          throw new HttpError(403, 'hospital-disabled', `hospital ${hospital.name} is disabled`);
        }
        if (hospitalMatch === 'previous') logPreviousToken(request, 'hospital', hospital, 'node');
        return { kind: 'hospital', hospital };
      }
      const reader = await this.prisma.readerToken.findFirst({
        where: { revokedAt: null, ...byHash },
      });
      const readerMatch = reader ? matchToken(reader, hash, this.now()) : undefined;
      if (reader && readerMatch) {
        if (readerMatch === 'previous') logPreviousToken(request, 'reader', reader, 'holder');
        return { kind: 'reader', reader };
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

/** A request made with a previous token, at info: who (id and name) and until when, never the token. */
function logPreviousToken(
  request: FastifyRequest,
  kind: 'hospital' | 'reader',
  row: { id: string; name: string; previousTokenExpiresAt: Date | null },
  holder: string,
): void {
  request.log.info(
    {
      [`${kind}Id`]: row.id,
      [kind]: row.name,
      previousTokenExpiresAt: row.previousTokenExpiresAt?.toISOString(),
    },
    `${kind} authenticated with its previous token (replaced by a rotation, accepted until previousTokenExpiresAt): give its ${holder} the new token`,
  );
}
