// AGGREGATOR_TOKEN_FILE: the token the inference API sends to the aggregator (its admin token,
// for GET /models/{id}/weights) read from a file and re-read when it changes.
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type InferenceApp } from '../../services/inference-api/app.ts';
import { readInferenceConfig, type InferenceConfig } from '../../services/inference-api/config.ts';
import { ConfigError } from '../../shared/service/config.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { startFakeAggregator, tinyAggregatorModel, type FakeAggregator } from './fixtures.ts';
import { inferenceTestConfig } from './test-app.ts';

const TOKEN_A = 'aggregator-token-a-0123456789';
const TOKEN_B = 'aggregator-token-b-9876543210';

let dir: string;
let aggregator: FakeAggregator;
const apps: InferenceApp[] = [];

beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'fedxray-aggregator-token-'));
  aggregator = await startFakeAggregator();
});

afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await aggregator?.close();
  await rm(dir, { recursive: true, force: true });
});

function config(overrides: Partial<InferenceConfig>): InferenceConfig {
  return inferenceTestConfig({
    aggregatorUrl: aggregator.url,
    maxUploadBytes: 10 * 1024 * 1024,
    ...overrides,
  });
}

let bump = 0;
async function rewrite(file: string, text: string): Promise<void> {
  await writeFile(file, text);
  bump += 5_000;
  await utimes(file, new Date(), new Date(Date.now() + bump));
}

describe('AGGREGATOR_TOKEN_FILE', () => {
  it('is read at each download: a new token is sent after a change, a bad file keeps the last one (logged, never the token)', async () => {
    let t = 1_000_000;
    const now = (): number => t;
    const file = join(dir, 'aggregator-token.txt');
    await rewrite(file, `# the aggregator's ADMIN_TOKEN\n${TOKEN_A}\n`);
    const lines: string[] = [];
    const app = await buildApp(config({ aggregatorTokenFile: file }), {
      logger: { level: 'trace', stream: { write: (line: string) => lines.push(line) } },
      now,
    });
    apps.push(app);
    const weights = aggregator.weightAuthorizations;
    const first = weights.length;

    aggregator.production = tinyAggregatorModel('model-a', 1, 1);
    expect(await app.reload()).toEqual({ status: 'loaded', modelId: 'model-a' });
    expect(weights.slice(first)).toEqual([`Bearer ${TOKEN_A}`]);

    // Rotated: the next download (a second later at most) sends the new token.
    await rewrite(file, `${TOKEN_B}\n`);
    t += 1000;
    aggregator.production = tinyAggregatorModel('model-b', 2, 2);
    expect(await app.reload()).toEqual({ status: 'loaded', modelId: 'model-b' });
    expect(weights.slice(first)).toEqual([`Bearer ${TOKEN_A}`, `Bearer ${TOKEN_B}`]);

    // A token that is too short, then no file: the last good token is still sent.
    await rewrite(file, 'short\n');
    t += 1000;
    aggregator.production = tinyAggregatorModel('model-c', 3, 3);
    expect(await app.reload()).toEqual({ status: 'loaded', modelId: 'model-c' });
    await rm(file);
    t += 1000;
    aggregator.production = tinyAggregatorModel('model-d', 4, 4);
    expect(await app.reload()).toEqual({ status: 'loaded', modelId: 'model-d' });
    expect(weights.slice(first + 2)).toEqual([`Bearer ${TOKEN_B}`, `Bearer ${TOKEN_B}`]);

    const logs = lines.join('');
    expect(logs).toMatch(/AGGREGATOR_TOKEN_FILE re-read: a new token is in force/);
    expect(logs).toMatch(
      /AGGREGATOR_TOKEN_FILE: the token on line 1 is 5 characters; at least 16 are required; the token read before stays in force/,
    );
    expect(logs).toMatch(/AGGREGATOR_TOKEN_FILE: cannot read \S+ \(ENOENT\)/);
    for (const secret of [TOKEN_A, TOKEN_B, 'short']) expect(logs).not.toContain(secret);
  });

  it('refuses to start on a missing or empty file, and with AGGREGATOR_TOKEN too', async () => {
    const missing = join(dir, 'no-such-token.txt');
    const error = await buildApp(config({ aggregatorTokenFile: missing }), {
      logger: false,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(
      /AGGREGATOR_TOKEN_FILE: cannot read .*no-such-token\.txt \(ENOENT\)/,
    );
    const empty = join(dir, 'token-empty.txt');
    await writeFile(empty, '\n# none yet\n');
    await expect(
      buildApp(config({ aggregatorTokenFile: empty }), { logger: false }),
    ).rejects.toThrow(/AGGREGATOR_TOKEN_FILE: .* holds no token/);

    const env = { AGGREGATOR_URL: 'http://127.0.0.1:3000', AGGREGATOR_TOKEN_FILE: empty };
    expect(readInferenceConfig(env).aggregatorTokenFile).toBe(empty);
    expect(() => readInferenceConfig({ ...env, AGGREGATOR_TOKEN: TOKEN_A })).toThrow(
      /set AGGREGATOR_TOKEN or AGGREGATOR_TOKEN_FILE, not both/,
    );
  });
});
