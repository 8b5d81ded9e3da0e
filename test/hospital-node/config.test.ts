// The node's numeric variables: integers are plain decimal integers, VAL_FRACTION a plain
// decimal (HOSPITAL_TOKEN_FILE is tested in token-file.test.ts).
import { describe, expect, it } from 'vitest';
import { loadHospitalConfig } from '../../services/hospital-node/config.ts';
import { ConfigError } from '../../shared/service/config.ts';

const base = {
  HOSPITAL_ID: 'hospital-a',
  DATA_DIR: '/data/hospital-a',
  AGGREGATOR_URL: 'http://127.0.0.1:3000',
  HOSPITAL_TOKEN: 'hospital-token-for-tests-0123456789',
};

describe('hospital node configuration: numbers', () => {
  it('reads plain decimal integers, signed where the schema allows', () => {
    for (const [text, value] of [
      ['0', 0],
      ['32', 32],
      [' 32 ', 32],
    ] as const) {
      const config = loadHospitalConfig({ ...base, PORT: text, SEED: text });
      expect(config.port, text).toBe(value);
      expect(config.seed, text).toBe(value);
    }
    expect(loadHospitalConfig({ ...base, SEED: '-7' }).seed).toBe(-7);
    expect(loadHospitalConfig({ ...base, TRAIN_THREADS: '4' }).trainThreads).toBe(4);
  });

  it('refuses fractions, exponents and other malformed integers, naming the variable', () => {
    for (const variable of ['PORT', 'SEED', 'TRAIN_THREADS', 'REQUEST_TIMEOUT_MS']) {
      for (const bad of ['1.5', '2e1', '0x10', '1_000', '10abc', ' ']) {
        const read = (): unknown => loadHospitalConfig({ ...base, [variable]: bad });
        expect(read, `${variable}=${bad}`).toThrow(ConfigError);
        expect(read, `${variable}=${bad}`).toThrow(
          `${variable}: Expected a whole decimal number (got "${bad}")`,
        );
      }
    }
  });

  it('reads VAL_FRACTION as a plain decimal, refusing garbage', () => {
    expect(loadHospitalConfig({ ...base, VAL_FRACTION: '0.25' }).valFraction).toBe(0.25);
    expect(loadHospitalConfig({ ...base, VAL_FRACTION: '0' }).valFraction).toBe(0);
    for (const bad of ['0.2abc', 'NaN', 'Infinity', '1e-1', '0x0']) {
      expect(() => loadHospitalConfig({ ...base, VAL_FRACTION: bad }), bad).toThrow(
        `VAL_FRACTION: Expected a decimal number (got "${bad}")`,
      );
    }
  });
});
