import { describe, expect, it } from 'vitest';
import {
  readInferenceConfig,
  servesShippedModel,
  SHIPPED_MODEL_DIR,
} from '../../services/inference-api/config.ts';
import { ConfigError } from '../../shared/service/config.ts';

describe('readInferenceConfig', () => {
  it('fills the defaults', () => {
    expect(readInferenceConfig({ AGGREGATOR_URL: 'http://localhost:3000' })).toEqual({
      port: 3200,
      host: '127.0.0.1',
      aggregatorUrl: 'http://localhost:3000',
      modelPollSeconds: 30,
      maxUploadBytes: 10 * 1024 * 1024,
      requestTimeoutMs: 30_000,
    });
  });

  it('reads every variable', () => {
    expect(
      readInferenceConfig({
        PORT: '8080',
        HOST: '0.0.0.0',
        MODEL_DIR: '/models/m',
        MODEL_POLL_SECONDS: '0',
        MAX_UPLOAD_BYTES: '1000',
        REQUEST_TIMEOUT_MS: '5000',
      }),
    ).toEqual({
      port: 8080,
      host: '0.0.0.0',
      modelDir: '/models/m',
      modelPollSeconds: 0,
      maxUploadBytes: 1000,
      requestTimeoutMs: 5000,
    });
  });

  it('serves the shipped model without a model source, and names bad values', () => {
    expect(readInferenceConfig({}).modelDir).toBe(SHIPPED_MODEL_DIR);
    expect(servesShippedModel({})).toBe(true);
    expect(servesShippedModel({ MODEL_DIR: '/models/m' })).toBe(false);
    expect(readInferenceConfig({ AGGREGATOR_URL: 'http://a:3000' }).modelDir).toBeUndefined();
    expect(() =>
      readInferenceConfig({ AGGREGATOR_URL: 'localhost:3000', MODEL_POLL_SECONDS: '-1' }),
    ).toThrow(/AGGREGATOR_URL: .*\n.*MODEL_POLL_SECONDS/);
  });

  const model = { MODEL_DIR: '/models/m' };

  it('reads integer variables written as plain decimal integers', () => {
    for (const [text, value] of [
      ['0', 0],
      ['32', 32],
      [' 32 ', 32],
    ] as const) {
      const config = readInferenceConfig({
        ...model,
        MAX_CONCURRENT_DIAGNOSES: text,
        RATE_LIMIT_PER_MINUTE: text,
      });
      expect(config.maxConcurrentDiagnoses, text).toBe(value);
      expect(config.rateLimitPerMinute, text).toBe(value);
    }
  });

  it('refuses fractions, exponents and other malformed integers, naming the variable', () => {
    for (const variable of [
      'PORT',
      'MAX_UPLOAD_BYTES',
      'RATE_LIMIT_PER_MINUTE',
      'MAX_CONCURRENT_DIAGNOSES',
      'REQUEST_TIMEOUT_MS',
    ]) {
      for (const bad of ['1.5', '2e1', '0x10', '1_000', '10abc', ' ']) {
        const read = (): unknown => readInferenceConfig({ ...model, [variable]: bad });
        expect(read, `${variable}=${bad}`).toThrow(ConfigError);
        expect(read, `${variable}=${bad}`).toThrow(
          `${variable}: Expected a whole decimal number (got "${bad}")`,
        );
      }
    }
  });

  it('reads MODEL_POLL_SECONDS as a decimal, refusing garbage', () => {
    expect(readInferenceConfig({ ...model, MODEL_POLL_SECONDS: '0.5' }).modelPollSeconds).toBe(0.5);
    expect(readInferenceConfig({ ...model, MODEL_POLL_SECONDS: ' 2 ' }).modelPollSeconds).toBe(2);
    for (const bad of ['1.5abc', 'NaN', 'Infinity', '1e1', '0x10']) {
      expect(() => readInferenceConfig({ ...model, MODEL_POLL_SECONDS: bad }), bad).toThrow(
        `MODEL_POLL_SECONDS: Expected a decimal number (got "${bad}")`,
      );
    }
  });
});
