import { Type, type Static } from '@sinclair/typebox';
import { loadConfig } from '../../shared/service/config.ts';
import { REQUEST_TIMEOUT_ENV, requestTimeoutField } from '../../shared/service/request-timeout.ts';
import {
  METRICS_ENV,
  MetricsConfigFields,
  metricsTokenProblems,
} from '../../shared/service/metrics-config.ts';
import { TLS_ENV, TlsConfigFields, tlsPairProblems } from '../../shared/service/tls.ts';

export const HospitalConfigSchema = Type.Object({
  hospitalId: Type.String({ minLength: 1, maxLength: 200 }),
  /** Never served: only counts, weights and metrics derived from it leave the node. */
  dataDir: Type.String({ minLength: 1 }),
  aggregatorUrl: Type.String({ pattern: '^https?://' }),
  /** The token the aggregator issued (POST /hospitals); or HOSPITAL_TOKEN_FILE. */
  hospitalToken: Type.Optional(Type.String({ minLength: 16 })),
  /** A file holding the token, re-read when it changes: the token rotates without a restart. */
  hospitalTokenFile: Type.Optional(Type.String({ minLength: 1 })),
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 3101 }),
  host: Type.String({ minLength: 1, default: '127.0.0.1' }),
  /** Optional: where the job history is kept across restarts; unset = memory only. */
  stateDir: Type.Optional(Type.String({ minLength: 1 })),
  valFraction: Type.Number({ minimum: 0, maximum: 0.9, default: 0.1 }),
  /**
   * Threads local training uses: each batch is split between them (data-parallel, one core
   * each on wasm). Default 1. Models with BatchNorm always train on one.
   */
  trainThreads: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
  seed: Type.Integer({ default: 42 }),
  /**
   * Behind a firewall that admits no inbound connection: take the aggregator's requests by
   * polling it (the hospital is registered with baseUrl `outbound:`); the REST API stays for
   * local use.
   */
  outboundOnly: Type.Optional(Type.Boolean()),
  /** Serve HTTPS with this PEM certificate and key (both or neither; docs/tls.md). */
  ...TlsConfigFields,
  /** Bearer token of GET /metrics (docs/metrics.md); absent = open. */
  ...MetricsConfigFields,
  /** Slow-client guard: ms to send a whole request (small JSON requests from the aggregator); 0 = none. */
  ...requestTimeoutField(60_000),
});

export type HospitalConfig = Static<typeof HospitalConfigSchema>;

export const HOSPITAL_ENV: Record<keyof HospitalConfig, string> = {
  hospitalId: 'HOSPITAL_ID',
  dataDir: 'DATA_DIR',
  aggregatorUrl: 'AGGREGATOR_URL',
  hospitalToken: 'HOSPITAL_TOKEN',
  hospitalTokenFile: 'HOSPITAL_TOKEN_FILE',
  port: 'PORT',
  host: 'HOST',
  stateDir: 'STATE_DIR',
  valFraction: 'VAL_FRACTION',
  trainThreads: 'TRAIN_THREADS',
  seed: 'SEED',
  outboundOnly: 'OUTBOUND_ONLY',
  ...TLS_ENV,
  ...METRICS_ENV,
  requestTimeoutMs: REQUEST_TIMEOUT_ENV,
};

export function loadHospitalConfig(env: NodeJS.ProcessEnv = process.env): HospitalConfig {
  return loadConfig(HospitalConfigSchema, HOSPITAL_ENV, env, {
    check: (values) => [
      ...tlsPairProblems(values),
      ...tokenSourceProblems(values),
      ...metricsTokenProblems(values),
    ],
  });
}

/** Exactly one of HOSPITAL_TOKEN and HOSPITAL_TOKEN_FILE. */
export function tokenSourceProblems(values: Partial<HospitalConfig>): string[] {
  const inline = values.hospitalToken !== undefined;
  const file = values.hospitalTokenFile !== undefined;
  if (inline && file)
    return [
      'set HOSPITAL_TOKEN or HOSPITAL_TOKEN_FILE, not both (HOSPITAL_TOKEN_FILE is re-read when it changes)',
    ];
  if (!inline && !file)
    return ['HOSPITAL_TOKEN or HOSPITAL_TOKEN_FILE is required (the token the aggregator issued)'];
  return [];
}
