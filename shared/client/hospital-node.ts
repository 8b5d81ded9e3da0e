/**
 * A typed client of a hospital node's public routes (services/hospital-node): GET /health and
 * GET /info (counts only). Its /train and /evaluate are the aggregator's, over signed requests
 * (services/aggregator/lib/hospital-client.ts).
 */
import type { Static } from '@sinclair/typebox';
import { InfoResponseSchema } from '../../services/hospital-node/schemas/info.ts';
import { HttpClient, route, type ClientOptions } from './http.ts';

export type HospitalInfo = Static<typeof InfoResponseSchema>;

/** GET /health's answer (shared/service/create-app.ts declares it as plain JSON schema). */
export interface Health {
  status: 'ok';
  service?: string;
  version?: string;
}

export const HOSPITAL_NODE_ROUTES = {
  health: route('GET', '/health'),
  info: route('GET', '/info', { response: InfoResponseSchema }),
};

export class HospitalNodeClient {
  private readonly http: HttpClient;

  constructor(options: ClientOptions) {
    this.http = new HttpClient(options);
  }

  async health(): Promise<Health> {
    const response = await this.http.open(HOSPITAL_NODE_ROUTES.health);
    return (await response.json()) as Health;
  }

  info(): Promise<HospitalInfo> {
    return this.http.call(HOSPITAL_NODE_ROUTES.info);
  }
}
