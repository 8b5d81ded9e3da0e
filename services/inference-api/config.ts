import { Type, type Static } from '@sinclair/typebox';
import { ConfigError, loadConfig } from '../../shared/service/config.ts';

export const DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

export const InferenceConfigSchema = Type.Object({
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 3200 }),
  host: Type.String({ minLength: 1, default: '127.0.0.1' }),
  /** Base URL of the aggregator; its production model is polled. */
  aggregatorUrl: Type.Optional(Type.String({ pattern: '^https?://\\S+$' })),
  /** Bearer token for the aggregator's GET /models/:id/weights (its ADMIN_TOKEN: not counted). */
  aggregatorToken: Type.Optional(Type.String({ minLength: 16 })),
  /** A fedxray model directory (model.json, weights.json, weights.bin), loaded at start. */
  modelDir: Type.Optional(Type.String({ minLength: 1 })),
  /** Seconds between polls of the aggregator; 0 polls only at start (and on reload()). */
  modelPollSeconds: Type.Number({ minimum: 0, default: 30 }),
  /** Largest accepted upload, in bytes (default 10 MiB). */
  maxUploadBytes: Type.Integer({ minimum: 1, default: DEFAULT_MAX_UPLOAD_BYTES }),
});

export type InferenceConfig = Static<typeof InferenceConfigSchema>;

export const INFERENCE_CONFIG_ENV = {
  port: 'PORT',
  host: 'HOST',
  aggregatorUrl: 'AGGREGATOR_URL',
  aggregatorToken: 'AGGREGATOR_TOKEN',
  modelDir: 'MODEL_DIR',
  modelPollSeconds: 'MODEL_POLL_SECONDS',
  maxUploadBytes: 'MAX_UPLOAD_BYTES',
} as const satisfies Record<keyof InferenceConfig, string>;

/** The configuration from environment variables; at least one model source is required. */
export function readInferenceConfig(env: NodeJS.ProcessEnv = process.env): InferenceConfig {
  const config = loadConfig(InferenceConfigSchema, INFERENCE_CONFIG_ENV, env);
  if (config.aggregatorUrl === undefined && config.modelDir === undefined) {
    throw new ConfigError(
      'Invalid configuration:\n  set AGGREGATOR_URL (the production model is polled) and/or MODEL_DIR (a local model directory)',
    );
  }
  return config;
}
