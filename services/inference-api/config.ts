import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type, type Static } from '@sinclair/typebox';
import { ConfigError, loadConfig } from '../../shared/service/config.ts';
import { MIN_TOKEN_LENGTH } from '../../shared/service/secret-file.ts';
import { REQUEST_TIMEOUT_ENV, requestTimeoutField } from '../../shared/service/request-timeout.ts';
import {
  METRICS_ENV,
  MetricsConfigFields,
  metricsTokenProblems,
} from '../../shared/service/metrics-config.ts';
import { TLS_ENV, TlsConfigFields, tlsPairProblems } from '../../shared/service/tls.ts';
import { checkApiKeys, MIN_API_KEY_LENGTH } from './lib/api-key-rules.ts';
import { MAX_CONCURRENT_DIAGNOSES_LIMIT } from './lib/in-flight.ts';

export const DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
/** POST /diagnose requests per minute per API key (or per client IP without keys). */
export const DEFAULT_RATE_LIMIT_PER_MINUTE = 120;
/**
 * POST /diagnose requests in flight at once; the documented load test ran 32 concurrent
 * callers, all answered 200 (docs/reliability.md, Load).
 */
export const DEFAULT_MAX_CONCURRENT_DIAGNOSES = 32;
export { MIN_API_KEY_LENGTH } from './lib/api-key-rules.ts';
/** STATE_DIR when unset, relative to the working directory (.state/ is git-ignored). */
export const DEFAULT_STATE_DIR = '.state/inference-api';
/**
 * One onnxruntime thread per diagnosis: predictions run one at a time per process, and the
 * service scales out by processes (docs/inference-api.md; the 1 vs 2 thread figures are in
 * docs/benchmarks.md).
 */
export const DEFAULT_ONNX_THREADS = 1;

/** The model shipped in the repository, served when no model source is configured. */
export const SHIPPED_MODEL_DIR = fileURLToPath(
  new URL('../../models/fl-se-resnet18-gn', import.meta.url),
);

/** True when the environment names no model source, so the shipped model is served. */
export function servesShippedModel(env: NodeJS.ProcessEnv = process.env): boolean {
  return !env.AGGREGATOR_URL && !env.MODEL_DIR;
}

/** CORS_ORIGINS: origins (scheme, host, port; no path) separated by commas. */
const CORS_ORIGINS_PATTERN = '^\\s*https?://[^\\s/,]+\\s*(,\\s*https?://[^\\s/,]+\\s*)*$';

export const InferenceConfigSchema = Type.Object({
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 3200 }),
  host: Type.String({ minLength: 1, default: '127.0.0.1' }),
  /** Base URL of the aggregator; its production model is polled. */
  aggregatorUrl: Type.Optional(Type.String({ pattern: '^https?://\\S+$' })),
  /**
   * Bearer token for the aggregator's GET /models/:id/weights: a reader token (the aggregator's
   * POST /readers: read-only, not counted; what `npm start` gives). Its admin token works too,
   * but gives this service every admin right there.
   */
  aggregatorToken: Type.Optional(Type.String({ minLength: MIN_TOKEN_LENGTH })),
  /**
   * Instead of AGGREGATOR_TOKEN: a file holding it (its first line that is neither blank nor a
   * # comment), re-read when it changes (looked at before each call to the aggregator, at most
   * once a second), so the token is rotated without a restart.
   */
  aggregatorTokenFile: Type.Optional(Type.String({ minLength: 1 })),
  /** A fedxray model directory (model.json, weights.json, weights.bin), loaded at start. */
  modelDir: Type.Optional(Type.String({ minLength: 1 })),
  /** Seconds between polls of the aggregator; 0 polls only at start (and on reload()). */
  modelPollSeconds: Type.Number({ minimum: 0, default: 30 }),
  /** Largest accepted upload, in bytes (default 10 MiB). */
  maxUploadBytes: Type.Integer({ minimum: 1, default: DEFAULT_MAX_UPLOAD_BYTES }),
  /**
   * API keys accepted by POST /diagnose (`x-api-key` or `Authorization: Bearer`); absent or
   * empty = no key needed (local mode). API_KEYS is a comma-separated list.
   */
  apiKeys: Type.Optional(
    Type.Array(Type.String({ minLength: MIN_API_KEY_LENGTH, pattern: '^[\\x21-\\x7e]+$' })),
  ),
  /**
   * A file of API keys, one per line (# comments), re-read when it changes: keys are added and
   * revoked without a restart (lib/api-key-file.ts). Not together with API_KEYS.
   */
  apiKeysFile: Type.Optional(Type.String({ minLength: 1 })),
  /**
   * POST /diagnose requests per minute per API key (per client IP without keys); 0 = no limit.
   * Absent = DEFAULT_RATE_LIMIT_PER_MINUTE (applied by buildApp, so a config built in code
   * gets it too).
   */
  rateLimitPerMinute: Type.Optional(Type.Integer({ minimum: 0 })),
  /**
   * POST /diagnose requests in flight at once (after the key and rate limit checks); beyond,
   * 503 `busy` before the upload is read. 0 = no cap. Absent =
   * DEFAULT_MAX_CONCURRENT_DIAGNOSES (applied by buildApp, like the rate limit).
   */
  maxConcurrentDiagnoses: Type.Optional(
    Type.Integer({ minimum: 0, maximum: MAX_CONCURRENT_DIAGNOSES_LIMIT }),
  ),
  /**
   * Bearer token of the admin routes (PUT/DELETE /models/current/threshold); absent = those
   * routes answer 403 admin-disabled.
   */
  adminToken: Type.Optional(Type.String({ minLength: MIN_TOKEN_LENGTH })),
  /**
   * Where the site's operating point and its audit file are kept. Absent = DEFAULT_STATE_DIR
   * (applied by buildApp, like the rate limit).
   */
  stateDir: Type.Optional(Type.String({ minLength: 1 })),
  /**
   * Web origins allowed to call this API from a browser (CORS), comma-separated, e.g. the
   * aggregator's dashboard `http://127.0.0.1:3000`. Absent = no cross-origin access.
   */
  corsOrigins: Type.Optional(Type.String({ pattern: CORS_ORIGINS_PATTERN })),
  /** Serve HTTPS with this PEM certificate and key (both or neither; docs/tls.md). */
  ...TlsConfigFields,
  /** Bearer token of GET /metrics (docs/metrics.md); absent = open. */
  ...MetricsConfigFields,
  /** Slow-client guard: ms to send a whole request (one X-ray upload); 0 = none. */
  ...requestTimeoutField(30_000),
  /**
   * What scores /diagnose: `auto` (absent) = onnxruntime-node when it loads, else tfjs;
   * `onnxruntime` = the same but a model it cannot run is an error; `tfjs` = never onnxruntime.
   * Grad-CAM (explain=true) always runs on tfjs.
   */
  inferRuntime: Type.Optional(
    Type.Union([Type.Literal('auto'), Type.Literal('onnxruntime'), Type.Literal('tfjs')]),
  ),
  /** onnxruntime intra-op threads per diagnosis. Absent = DEFAULT_ONNX_THREADS. */
  onnxThreads: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
});

export type InferenceConfig = Static<typeof InferenceConfigSchema>;

export const INFERENCE_CONFIG_ENV = {
  port: 'PORT',
  host: 'HOST',
  aggregatorUrl: 'AGGREGATOR_URL',
  aggregatorToken: 'AGGREGATOR_TOKEN',
  aggregatorTokenFile: 'AGGREGATOR_TOKEN_FILE',
  modelDir: 'MODEL_DIR',
  modelPollSeconds: 'MODEL_POLL_SECONDS',
  maxUploadBytes: 'MAX_UPLOAD_BYTES',
  apiKeys: 'API_KEYS',
  apiKeysFile: 'API_KEYS_FILE',
  rateLimitPerMinute: 'RATE_LIMIT_PER_MINUTE',
  maxConcurrentDiagnoses: 'MAX_CONCURRENT_DIAGNOSES',
  adminToken: 'ADMIN_TOKEN',
  stateDir: 'STATE_DIR',
  corsOrigins: 'CORS_ORIGINS',
  ...TLS_ENV,
  ...METRICS_ENV,
  requestTimeoutMs: REQUEST_TIMEOUT_ENV,
  inferRuntime: 'INFER_RUNTIME',
  onnxThreads: 'ONNX_THREADS',
} as const satisfies Record<keyof InferenceConfig, string>;

/**
 * The configuration from environment variables. Without AGGREGATOR_URL and MODEL_DIR the
 * shipped model (SHIPPED_MODEL_DIR) is served; it must then be present.
 */
export function readInferenceConfig(env: NodeJS.ProcessEnv = process.env): InferenceConfig {
  // API_KEYS is a list: split it here (loadConfig converts scalars only) and check each key.
  const { API_KEYS: apiKeysText, ...rest } = env;
  const apiKeys = parseApiKeys(apiKeysText);
  let config: InferenceConfig;
  try {
    config = loadConfig(InferenceConfigSchema, INFERENCE_CONFIG_ENV, rest, {
      check: (values) => [...tlsPairProblems(values), ...metricsTokenProblems(values)],
    });
  } catch (error) {
    if (error instanceof ConfigError && apiKeys.problems.length > 0) {
      throw new ConfigError(`${error.message}\n  ${apiKeys.problems.join('\n  ')}`);
    }
    throw error;
  }
  if (apiKeys.problems.length > 0) {
    throw new ConfigError(`Invalid configuration:\n  ${apiKeys.problems.join('\n  ')}`);
  }
  if (apiKeys.keys.length > 0) config.apiKeys = apiKeys.keys;
  if (config.apiKeys && config.apiKeysFile !== undefined) {
    throw new ConfigError(
      'Invalid configuration:\n  set API_KEYS or API_KEYS_FILE, not both (API_KEYS_FILE is re-read when it changes)',
    );
  }
  if (config.aggregatorToken !== undefined && config.aggregatorTokenFile !== undefined) {
    throw new ConfigError(
      'Invalid configuration:\n  set AGGREGATOR_TOKEN or AGGREGATOR_TOKEN_FILE, not both (AGGREGATOR_TOKEN_FILE is re-read when it changes)',
    );
  }
  if (config.aggregatorUrl === undefined && config.modelDir === undefined) {
    if (!existsSync(join(SHIPPED_MODEL_DIR, 'model.json')))
      throw new ConfigError(
        `Invalid configuration:\n  set AGGREGATOR_URL (the production model is polled) and/or MODEL_DIR (a local model directory); the shipped model ${SHIPPED_MODEL_DIR} is missing`,
      );
    config.modelDir = SHIPPED_MODEL_DIR;
  }
  return config;
}

/**
 * API_KEYS: comma-separated; blanks around keys and empty entries are ignored. Problems name
 * the variable and the key's position, never the key itself (it is a secret).
 */
export function parseApiKeys(text: string | undefined): { keys: string[]; problems: string[] } {
  const keys = (text ?? '')
    .split(',')
    .map((key) => key.trim())
    .filter((key) => key !== '');
  const problems = checkApiKeys(keys, (i) => `API_KEYS: key ${i + 1}`);
  return { keys: [...new Set(keys)], problems };
}
