import type { FastifyPluginAsync } from 'fastify';
import { getBackendInfo } from '../../../shared/tf/backend.ts';
import { tf } from '../../../shared/tf/tf.ts';
import { servesTls } from '../../../shared/service/info-route.ts';
import { SOFTWARE_VERSION } from '../../../shared/service/version.ts';
import type { HospitalContext } from '../plugins/hospital.ts';
import { InfoResponseSchema, type InfoResponse } from '../schemas/info.ts';

export const infoRoutes: FastifyPluginAsync<{ ctx: HospitalContext }> = async (app, { ctx }) => {
  app.get(
    '/info',
    {
      schema: {
        summary: 'The hospital and its image counts (counts only)',
        tags: ['hospital'],
        response: { 200: InfoResponseSchema },
      },
    },
    async (): Promise<InfoResponse> => ({
      hospitalId: ctx.config.hospitalId,
      samples: ctx.data.counts.all,
      splits: { train: ctx.data.counts.train, validation: ctx.data.counts.validation },
      backend: getBackendInfo()?.name ?? tf.getBackend(),
      trainThreads: ctx.config.trainThreads ?? 1,
      version: SOFTWARE_VERSION,
      tls: servesTls(app),
    }),
  );
};
