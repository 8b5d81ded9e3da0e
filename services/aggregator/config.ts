import { Type, type Static } from '@sinclair/typebox';
import { loadConfig } from '../../shared/service/config.ts';
import { REQUEST_TIMEOUT_ENV, requestTimeoutField } from '../../shared/service/request-timeout.ts';
import { TLS_ENV, TlsConfigFields, tlsPairProblems } from '../../shared/service/tls.ts';

export const AggregatorConfigSchema = Type.Object({
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  host: Type.String({ minLength: 1, default: '127.0.0.1' }),
  /** PostgreSQL; unset = an embedded PGlite database under STATE_DIR. */
  databaseUrl: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  /** Model and update files (and the PGlite database when DATABASE_URL is unset). */
  stateDir: Type.String({ minLength: 1, default: '.state/aggregator' }),
  /** Unset = local mode: a random token is generated and logged once at start. */
  adminToken: Type.Optional(Type.String({ minLength: 16 })),
  /** The URL hospitals and the inference-api use to reach this aggregator (told at start). */
  publicUrl: Type.Optional(Type.String({ pattern: '^https?://\\S+$' })),
  /** Serve HTTPS with this PEM certificate and key (both or neither; docs/tls.md). */
  ...TlsConfigFields,
  /** Slow-client guard: ms to send a whole request (weight updates of up to ~45 MB); 0 = none. */
  ...requestTimeoutField(600_000),
});

export type AggregatorConfig = Static<typeof AggregatorConfigSchema>;

export const AGGREGATOR_ENV = {
  port: 'PORT',
  host: 'HOST',
  databaseUrl: 'DATABASE_URL',
  stateDir: 'STATE_DIR',
  adminToken: 'ADMIN_TOKEN',
  publicUrl: 'PUBLIC_URL',
  ...TLS_ENV,
  requestTimeoutMs: REQUEST_TIMEOUT_ENV,
} as const satisfies Record<keyof AggregatorConfig, string>;

export function loadAggregatorConfig(env: NodeJS.ProcessEnv = process.env): AggregatorConfig {
  return loadConfig(AggregatorConfigSchema, AGGREGATOR_ENV, env, { check: tlsPairProblems });
}
