import { Type, type Static } from '@sinclair/typebox';
import { loadConfig } from '../../shared/service/config.ts';
import { REQUEST_TIMEOUT_ENV, requestTimeoutField } from '../../shared/service/request-timeout.ts';
import { TLS_ENV, TlsConfigFields, tlsPairProblems } from '../../shared/service/tls.ts';

export const HospitalConfigSchema = Type.Object({
  hospitalId: Type.String({ minLength: 1, maxLength: 200 }),
  /** Never served: only counts, weights and metrics derived from it leave the node. */
  dataDir: Type.String({ minLength: 1 }),
  aggregatorUrl: Type.String({ pattern: '^https?://' }),
  hospitalToken: Type.String({ minLength: 16 }),
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 3101 }),
  host: Type.String({ minLength: 1, default: '127.0.0.1' }),
  /** Optional: where the job history is kept across restarts; unset = memory only. */
  stateDir: Type.Optional(Type.String({ minLength: 1 })),
  valFraction: Type.Number({ minimum: 0, maximum: 0.9, default: 0.1 }),
  seed: Type.Integer({ default: 42 }),
  /** Serve HTTPS with this PEM certificate and key (both or neither; docs/tls.md). */
  ...TlsConfigFields,
  /** Slow-client guard: ms to send a whole request (small JSON requests from the aggregator); 0 = none. */
  ...requestTimeoutField(60_000),
});

export type HospitalConfig = Static<typeof HospitalConfigSchema>;

export const HOSPITAL_ENV: Record<keyof HospitalConfig, string> = {
  hospitalId: 'HOSPITAL_ID',
  dataDir: 'DATA_DIR',
  aggregatorUrl: 'AGGREGATOR_URL',
  hospitalToken: 'HOSPITAL_TOKEN',
  port: 'PORT',
  host: 'HOST',
  stateDir: 'STATE_DIR',
  valFraction: 'VAL_FRACTION',
  seed: 'SEED',
  ...TLS_ENV,
  requestTimeoutMs: REQUEST_TIMEOUT_ENV,
};

export function loadHospitalConfig(env: NodeJS.ProcessEnv = process.env): HospitalConfig {
  return loadConfig(HospitalConfigSchema, HOSPITAL_ENV, env, { check: tlsPairProblems });
}
