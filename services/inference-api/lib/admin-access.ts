/** Who may change the site's operating point: the bearer of ADMIN_TOKEN. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken, hashToken, secretsEqual } from '../../../shared/service/auth.ts';
import { HttpError } from '../../../shared/service/errors.ts';
import type { ChangeActor } from './operating-point.ts';

export class AdminAccess {
  constructor(
    private readonly token: string | undefined,
    private readonly realm: string,
  ) {}

  /** The onRequest hook of the admin routes: before the body is read or validated. */
  readonly onRequest = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (this.token === undefined) {
      throw new HttpError(
        403,
        'admin-disabled',
        'the admin routes are off: set ADMIN_TOKEN on the inference API to use them',
      );
    }
    const presented = bearerToken(request);
    if (presented !== undefined && secretsEqual(presented, this.token)) return;
    reply.header('www-authenticate', `Bearer realm="${this.realm}"`);
    throw presented === undefined
      ? new HttpError(
          401,
          'missing-admin-token',
          'this route needs Authorization: Bearer <ADMIN_TOKEN>',
        )
      : new HttpError(401, 'invalid-admin-token', 'the bearer token is not the admin token');
  };

  /** Who sent an authenticated request, for the audit: never the token itself. */
  actor(request: FastifyRequest): ChangeActor {
    return { ip: request.ip, tokenSha256Prefix: hashToken(bearerToken(request) ?? '').slice(0, 8) };
  }
}
