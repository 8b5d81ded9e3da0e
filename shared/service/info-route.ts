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
  },
  { additionalProperties: true },
);
export type ServiceInfo = Static<typeof ServiceInfoSchema>;

/** GET /info: what is running (service, version, tfjs backend) plus service-specific fields. */
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
        response: { 200: ServiceInfoSchema },
      },
    },
    async (): Promise<ServiceInfo> => {
      const backend = getBackendInfo();
      return {
        service,
        version: SOFTWARE_VERSION,
        backend: backend?.name ?? 'none',
        backendSource: backend?.source ?? 'none',
        ...(await extra()),
      };
    },
  );
}
