import { Type, type Static } from '@sinclair/typebox';
import { loadConfig } from '../../shared/service/config.ts';
import { MIN_TOKEN_LENGTH } from '../../shared/service/secret-file.ts';
import { REQUEST_TIMEOUT_ENV, requestTimeoutField } from '../../shared/service/request-timeout.ts';
import {
  METRICS_ENV,
  MetricsConfigFields,
  metricsTokenProblems,
} from '../../shared/service/metrics-config.ts';
import { TLS_ENV, TlsConfigFields, tlsPairProblems } from '../../shared/service/tls.ts';

/** The longest ADMIN_TOKEN_GRACE_SECONDS: an hour (a grace is for a switch-over, not a second token). */
export const MAX_ADMIN_TOKEN_GRACE_SECONDS = 3600;

/** A standby tries the instance lock this often unless STANDBY_POLL_SECONDS says otherwise. */
export const STANDBY_POLL_DEFAULT_SECONDS = 5;

export const AggregatorConfigSchema = Type.Object({
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  host: Type.String({ minLength: 1, default: '127.0.0.1' }),
  /** PostgreSQL; unset = an embedded PGlite database under STATE_DIR. */
  databaseUrl: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  /** Model and update files (and the PGlite database when DATABASE_URL is unset). */
  stateDir: Type.String({ minLength: 1, default: '.state/aggregator' }),
  /**
   * Unset (and no ADMIN_TOKEN_FILE) = local mode: a random token is generated and logged once
   * at start.
   */
  adminToken: Type.Optional(Type.String({ minLength: MIN_TOKEN_LENGTH })),
  /**
   * Instead of ADMIN_TOKEN: a file holding the admin token (its first line that is neither
   * blank nor a # comment), re-read when it changes (lib/admin-token.ts).
   */
  adminTokenFile: Type.Optional(Type.String({ minLength: 1 })),
  /**
   * With ADMIN_TOKEN_FILE: seconds the admin token the file held before a change is still
   * accepted after the change is seen. Absent = 0 (callers switch at the change).
   */
  adminTokenGraceSeconds: Type.Optional(
    Type.Integer({ minimum: 0, maximum: MAX_ADMIN_TOKEN_GRACE_SECONDS }),
  ),
  /** The URL hospitals and the inference-api use to reach this aggregator (told at start). */
  publicUrl: Type.Optional(Type.String({ pattern: '^https?://\\S+$' })),
  /**
   * With DATABASE_URL: when another aggregator holds the database's instance lock, serve the
   * read routes and take over the round loop once it is gone, instead of refusing to start.
   */
  standby: Type.Optional(Type.Boolean()),
  /** How often a standby tries to take the instance lock (default STANDBY_POLL_DEFAULT_SECONDS). */
  standbyPollSeconds: Type.Optional(Type.Number({ minimum: 0.1, maximum: 60 })),
  /**
   * The inference API's URL the web dashboard (GET /) sends X-rays to by default; the page
   * lets the user change it. The inference API must allow this aggregator's origin
   * (its CORS_ORIGINS).
   */
  inferenceUrl: Type.Optional(Type.String({ pattern: '^https?://\\S+$' })),
  /**
   * Seconds the aggregator waits for a node's answer to one call (a job-status check, a job
   * start; default 10). Raise it where nodes share few cores with training: a busy node
   * answers slowly.
   */
  nodeRequestTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 600 })),
  /** Failed job-status checks in a row after which a node's part of a round fails (default 3). */
  nodeMissedPolls: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  /** Serve HTTPS with this PEM certificate and key (both or neither; docs/tls.md). */
  ...TlsConfigFields,
  /** Bearer token of GET /metrics (docs/metrics.md); absent = open. */
  ...MetricsConfigFields,
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
  adminTokenFile: 'ADMIN_TOKEN_FILE',
  adminTokenGraceSeconds: 'ADMIN_TOKEN_GRACE_SECONDS',
  publicUrl: 'PUBLIC_URL',
  standby: 'STANDBY',
  standbyPollSeconds: 'STANDBY_POLL_SECONDS',
  inferenceUrl: 'INFERENCE_URL',
  nodeRequestTimeoutSeconds: 'NODE_REQUEST_TIMEOUT_SECONDS',
  nodeMissedPolls: 'NODE_MISSED_POLLS',
  ...TLS_ENV,
  ...METRICS_ENV,
  requestTimeoutMs: REQUEST_TIMEOUT_ENV,
} as const satisfies Record<keyof AggregatorConfig, string>;

export function loadAggregatorConfig(env: NodeJS.ProcessEnv = process.env): AggregatorConfig {
  return loadConfig(AggregatorConfigSchema, AGGREGATOR_ENV, env, {
    check: (values) => [
      ...tlsPairProblems(values),
      ...adminTokenProblems(values),
      ...metricsTokenProblems(values),
    ],
  });
}

/** ADMIN_TOKEN and ADMIN_TOKEN_FILE exclude each other; the grace needs the file. */
export function adminTokenProblems(values: Partial<AggregatorConfig>): string[] {
  const problems: string[] = [];
  if (values.adminToken !== undefined && values.adminTokenFile !== undefined) {
    problems.push(
      'set ADMIN_TOKEN or ADMIN_TOKEN_FILE, not both (ADMIN_TOKEN_FILE is re-read when it changes)',
    );
  }
  if (values.adminTokenGraceSeconds !== undefined && values.adminTokenFile === undefined) {
    problems.push(
      'ADMIN_TOKEN_GRACE_SECONDS needs ADMIN_TOKEN_FILE (the grace follows a change of the file)',
    );
  }
  return problems;
}
