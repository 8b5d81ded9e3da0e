import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { getBackendInfo } from '../tf/backend.ts';
import { SOFTWARE_VERSION } from './version.ts';

export const ServiceInfoSchema = Type.Object(
  {
    service: Type.String(),
    version: Type.String({ description: 'fedxray software version' }),
    backend: Type.String({ description: 'TensorFlow.js backend in use (tensorflow, wasm or cpu)' }),
    backendSource: Type.String({ description: 'npm package that provides the backend' }),
    tls: Type.Boolean({ description: 'true when the service answers HTTPS (docs/tls.md)' }),
  },
  { additionalProperties: true },
);
export type ServiceInfo = Static<typeof ServiceInfoSchema>;

/** Whether the app was built with a certificate (createServiceApp's `https`). */
export function servesTls(app: FastifyInstance): boolean {
  return Boolean(app.initialConfig.https);
}

/**
 * GET /info: what is running (service, version, tfjs backend, HTTPS or not) plus
 * service-specific fields.
 */
export function registerInfoRoute(
  app: FastifyInstance,
  service: string,
  extra: () => Promise<Record<string, unknown>> | Record<string, unknown> = () => ({}),
): void {
  app.get(
    '/info',
    {
      schema: {
        summary: 'What is running: service, software version, TensorFlow.js backend',
        tags: ['service'],
        response: {
          200: {
            ...ServiceInfoSchema,
            examples: [
              {
                service,
                version: SOFTWARE_VERSION,
                backend: 'wasm',
                backendSource: '@tensorflow/tfjs-backend-wasm',
                tls: true,
              },
            ],
          },
        },
      },
    },
    async (): Promise<ServiceInfo> => {
      const backend = getBackendInfo();
      return {
        service,
        version: SOFTWARE_VERSION,
        backend: backend?.name ?? 'none',
        backendSource: backend?.source ?? 'none',
        tls: servesTls(app),
        ...(await extra()),
      };
    },
  );
}
