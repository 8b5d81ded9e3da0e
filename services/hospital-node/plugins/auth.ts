import type { onRequestAsyncHookHandler } from 'fastify';
import { bearerToken, secretsEqual } from '../../../shared/service/auth.ts';
import { HttpError } from '../../../shared/service/errors.ts';

/**
 * An onRequest hook admitting only `Authorization: Bearer <token>`. It runs before the body
 * is parsed, so strangers cannot make the node parse anything.
 */
export function requireToken(token: string): onRequestAsyncHookHandler {
  return async (request, reply) => {
    const given = bearerToken(request);
    if (given === undefined || !secretsEqual(given, token)) {
      reply.header('www-authenticate', 'Bearer');
      throw new HttpError(
        401,
        'unauthorized',
        'this route needs the hospital token: Authorization: Bearer <HOSPITAL_TOKEN>',
      );
    }
  };
}
