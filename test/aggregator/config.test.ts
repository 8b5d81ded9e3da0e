// The aggregator's integer variables: plain decimal integers only (the rest of its configuration
// is tested with the service, service.test.ts).
import { describe, expect, it } from 'vitest';
import { loadAggregatorConfig } from '../../services/aggregator/config.ts';
import { ConfigError } from '../../shared/service/config.ts';

const withFile = { ADMIN_TOKEN_FILE: '/run/secrets/admin-token' };

describe('aggregator configuration: integers', () => {
  it('reads plain decimal integers', () => {
    for (const [text, value] of [
      ['0', 0],
      ['32', 32],
      [' 32 ', 32],
    ] as const) {
      const config = loadAggregatorConfig({
        ...withFile,
        PORT: text,
        ADMIN_TOKEN_GRACE_SECONDS: text,
        REQUEST_TIMEOUT_MS: text,
      });
      expect(config.port, text).toBe(value);
      expect(config.adminTokenGraceSeconds, text).toBe(value);
      expect(config.requestTimeoutMs, text).toBe(value);
    }
  });

  it('refuses fractions, exponents and other malformed integers, naming the variable', () => {
    for (const variable of ['PORT', 'ADMIN_TOKEN_GRACE_SECONDS', 'REQUEST_TIMEOUT_MS']) {
      for (const bad of ['1.5', '2e1', '0x10', '1_000', '10abc', ' ']) {
        const read = (): unknown => loadAggregatorConfig({ ...withFile, [variable]: bad });
        expect(read, `${variable}=${bad}`).toThrow(ConfigError);
        expect(read, `${variable}=${bad}`).toThrow(
          `${variable}: Expected a whole decimal number (got "${bad}")`,
        );
      }
    }
  });

  it('reads how long to wait for a node and how many missed checks give it up', () => {
    const config = loadAggregatorConfig({
      ...withFile,
      NODE_REQUEST_TIMEOUT_SECONDS: '30',
      NODE_MISSED_POLLS: '5',
    });
    expect(config).toMatchObject({ nodeRequestTimeoutSeconds: 30, nodeMissedPolls: 5 });
    const defaults = loadAggregatorConfig(withFile);
    expect(defaults.nodeRequestTimeoutSeconds).toBeUndefined();
    expect(defaults.nodeMissedPolls).toBeUndefined();
    for (const variable of ['NODE_REQUEST_TIMEOUT_SECONDS', 'NODE_MISSED_POLLS'])
      expect(() => loadAggregatorConfig({ ...withFile, [variable]: '0' })).toThrow(variable);
  });

  it('reports a malformed integer together with the other problems', () => {
    expect(() =>
      loadAggregatorConfig({ ADMIN_TOKEN_GRACE_SECONDS: '1.5', PUBLIC_URL: 'host' }),
    ).toThrow(
      /ADMIN_TOKEN_GRACE_SECONDS: Expected a whole decimal number \(got "1\.5"\)\n.*PUBLIC_URL: .*\n.*ADMIN_TOKEN_GRACE_SECONDS needs ADMIN_TOKEN_FILE/,
    );
  });
});

describe('aggregator configuration: secrets', () => {
  it('never echoes a refused token, only its length', () => {
    const read = (): unknown => loadAggregatorConfig({ ADMIN_TOKEN: 'cut-secret' });
    expect(read).toThrow('ADMIN_TOKEN: ');
    expect(read).toThrow('(got 10 characters, not shown)');
    try {
      read();
    } catch (error) {
      expect((error as Error).message).not.toContain('cut-secret');
    }
  });
});
