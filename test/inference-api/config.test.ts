import { describe, expect, it } from 'vitest';
import { readInferenceConfig } from '../../services/inference-api/config.ts';
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

  it('needs a model source and names bad values', () => {
    expect(() => readInferenceConfig({})).toThrow(ConfigError);
    expect(() => readInferenceConfig({})).toThrow(/AGGREGATOR_URL .*MODEL_DIR/);
    expect(() =>
      readInferenceConfig({ AGGREGATOR_URL: 'localhost:3000', MODEL_POLL_SECONDS: '-1' }),
    ).toThrow(/AGGREGATOR_URL: .*\n.*MODEL_POLL_SECONDS/);
  });
});
