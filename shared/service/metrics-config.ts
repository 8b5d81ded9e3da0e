/**
 * METRICS_TOKEN / METRICS_TOKEN_FILE: the optional bearer token of GET /metrics, shared by every
 * fedxray service's configuration (spread like the TLS fields).
 */
import { Type } from '@sinclair/typebox';
import { MIN_TOKEN_LENGTH, tokenFile } from './secret-file.ts';

export const METRICS_ENV = {
  metricsToken: 'METRICS_TOKEN',
  metricsTokenFile: 'METRICS_TOKEN_FILE',
} as const;

/** The two config fields, spread into each service's config schema. */
export const MetricsConfigFields = {
  /**
   * Bearer token GET /metrics requires (`Authorization: Bearer <token>`, 401 otherwise);
   * absent (and no METRICS_TOKEN_FILE) = /metrics is open, like /health.
   */
  metricsToken: Type.Optional(Type.String({ minLength: MIN_TOKEN_LENGTH })),
  /**
   * Instead of METRICS_TOKEN: a file holding it (its first line that is neither blank nor a
   * # comment), re-read when it changes.
   */
  metricsTokenFile: Type.Optional(Type.String({ minLength: 1 })),
};

export interface MetricsTokenConfig {
  metricsToken?: string;
  metricsTokenFile?: string;
}

/** METRICS_TOKEN and METRICS_TOKEN_FILE exclude each other (for loadConfig's check). */
export function metricsTokenProblems(values: MetricsTokenConfig): string[] {
  if (values.metricsToken !== undefined && values.metricsTokenFile !== undefined) {
    return [
      'set METRICS_TOKEN or METRICS_TOKEN_FILE, not both (METRICS_TOKEN_FILE is re-read when it changes)',
    ];
  }
  return [];
}

export interface MetricsTokenSourceOptions {
  /** Where reload problems of METRICS_TOKEN_FILE go (the service log). */
  onProblem: (message: string) => void;
  onChange?: () => void;
  now?: () => number;
}

/**
 * The token in force for GET /metrics, or undefined when it is open. METRICS_TOKEN_FILE is
 * read now (a missing or bad file is a ConfigError before anything starts), then re-read when
 * it changes.
 */
export function metricsTokenSource(
  config: MetricsTokenConfig,
  options: MetricsTokenSourceOptions,
): (() => string) | undefined {
  if (config.metricsTokenFile !== undefined) {
    const file = tokenFile({
      variable: METRICS_ENV.metricsTokenFile,
      path: config.metricsTokenFile,
      onProblem: options.onProblem,
      onChange: options.onChange,
      now: options.now,
    });
    return () => file.current();
  }
  const token = config.metricsToken;
  return token === undefined ? undefined : () => token;
}
