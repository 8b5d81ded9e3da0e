/**
 * Active or standby (STANDBY=true, docs/aggregator.md "A standby aggregator"): the active
 * aggregator holds the database's instance lock and drives the rounds; a standby serves the
 * read routes, answers 503 `standby` to everything else (a load balancer's health check is
 * GET /ready) and becomes active when it takes the lock.
 */
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../../../shared/service/errors.ts';
import { ErrorResponse } from '../schemas/common.ts';

export class AggregatorRole {
  constructor(private activeNow: boolean) {}

  get active(): boolean {
    return this.activeNow;
  }

  activate(): void {
    this.activeNow = true;
  }
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function registerRole(app: FastifyInstance, role: AggregatorRole): void {
  app.addHook('onRequest', async (request, reply) => {
    if (role.active || READ_METHODS.has(request.method)) return;
    reply.header('retry-after', '5');
    throw new HttpError(
      503,
      'standby',
      'this aggregator is a standby: another one holds the database and drives the rounds; ' +
        'send this to the active aggregator (GET /ready answers 200 there)',
    );
  });

  app.get(
    '/ready',
    {
      schema: {
        summary: 'Readiness: 200 on the active aggregator, 503 `standby` on a standby',
        description:
          'For a load balancer in front of an active and a standby aggregator: route to the ' +
          'instance that answers 200. A standby takes over (and answers 200) once the active ' +
          "one's database session ends.",
        tags: ['service'],
        response: {
          200: {
            type: 'object',
            properties: { ready: { type: 'boolean' }, role: { type: 'string', enum: ['active'] } },
            required: ['ready', 'role'],
            examples: [{ ready: true, role: 'active' }],
          },
          503: ErrorResponse,
        },
      },
    },
    async () => {
      if (!role.active) {
        throw new HttpError(503, 'standby', 'standby: waiting for the instance lock');
      }
      return { ready: true, role: 'active' as const };
    },
  );
}
