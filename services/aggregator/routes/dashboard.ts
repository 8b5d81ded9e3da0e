/**
 * The web dashboard: GET / answers its page (the files under /dashboard/ and /dashboard/vendor/
 * are served by @fastify/static, registered in app.ts); GET /dashboard/config.json tells the
 * page where the inference API is. No secret is ever served: the page asks for the admin token.
 */
import type { FastifyPluginAsync } from 'fastify';
import { SOFTWARE_VERSION } from '../../../shared/service/version.ts';
import { DashboardConfigSchema, type DashboardConfig } from '../schemas/dashboard.ts';

export const dashboardRoutes: FastifyPluginAsync<{ inferenceUrl: string | undefined }> = async (
  app,
  { inferenceUrl },
) => {
  app.get(
    '/',
    {
      schema: {
        summary: 'The web dashboard (runs, hospitals, models, diagnosis); docs/dashboard.md',
        tags: ['dashboard'],
        produces: ['text/html'],
        response: { 200: { description: 'text/html', type: 'string' } },
      },
    },
    // @fastify/static's defaults: max-age 0 with an ETag, so a new version is seen at once.
    async (_request, reply) => reply.sendFile('index.html'),
  );

  app.get<{ Reply: DashboardConfig }>(
    '/dashboard/config.json',
    {
      schema: {
        summary: "The web dashboard's settings: the inference API's URL (INFERENCE_URL)",
        tags: ['dashboard'],
        response: { 200: DashboardConfigSchema },
      },
    },
    async () => ({ inferenceUrl: inferenceUrl ?? null, version: SOFTWARE_VERSION }),
  );
};
