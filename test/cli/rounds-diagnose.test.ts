/**
 * fedxray rounds start / rounds watch against a real aggregator and hospital node, and
 * fedxray diagnose against a real inference API (tiny model), all on loopback in this process.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp as buildHospital } from '../../services/hospital-node/app.ts';
import { AggregatorClient } from '../../shared/client/aggregator.ts';
import { ApiError } from '../../shared/client/http.ts';
import { SAMPLE_DATA_DIR } from '../../shared/data/index.ts';
import {
  ADMIN_TOKEN,
  freshState,
  startAggregator,
  type Aggregator,
} from '../aggregator/helpers.ts';
import { hospitalConfig, makeHospitalData } from '../hospital-node/fixtures.ts';
import { freePort } from '../helpers/ports.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { writeTinyModelDir } from '../inference-api/fixtures.ts';
import { buildInferenceApp } from '../inference-api/test-app.ts';
import { runMain, type MainResult } from './run-main.ts';

const TINY_FLAGS = ['--input-size', '32', '--width', '8', '--batch-size', '8', '--seed', '7'];

/** Runs `fedxray ...argv` in this process; stdout and stderr are captured. */
function fedxray(...argv: string[]): Promise<MainResult> {
  return runMain(argv);
}

let work: string;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  await useTestBackend();
  work = await mkdtemp(join(tmpdir(), 'fedxray-cli-rounds-'));
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await rm(work, { recursive: true, force: true });
});

describe('fedxray rounds', () => {
  let aggregator: Aggregator;
  let hospital: FastifyInstance;

  beforeAll(async () => {
    const state = await freshState('pglite');
    cleanups.push(state.cleanup);
    aggregator = await startAggregator(state.test.db, state.stateDir);
    cleanups.push(() => aggregator.app.close());
    const client = new AggregatorClient({ baseUrl: aggregator.url, token: ADMIN_TOKEN });
    const port = await freePort();
    const { token } = await client.createHospital({
      name: 'st-marys',
      baseUrl: `http://127.0.0.1:${port}`,
    });
    const data = await makeHospitalData(8);
    cleanups.push(() => rm(data.dir, { recursive: true, force: true }));
    hospital = await buildHospital(
      { ...hospitalConfig(data.dir, aggregator.url), hospitalToken: token, port },
      { logger: false, retry: { retries: 2, minTimeoutMs: 20 } },
    );
    cleanups.push(() => hospital.close());
    await hospital.listen({ port, host: '127.0.0.1' });
  }, 120_000);

  it('starts a run from --json and flags, and watches it to its end', async () => {
    const settings = join(work, 'run.json');
    await writeFile(settings, JSON.stringify({ rounds: 5, localEpochs: 1, promote: false }));
    const connection = ['--aggregator', aggregator.url, '--token', ADMIN_TOKEN];
    const started = await fedxray(
      'rounds',
      'start',
      ...connection,
      '--json',
      settings,
      '--rounds',
      '2',
      ...TINY_FLAGS,
    );
    expect(started.err).toBe('');
    expect(started.code).toBe(0);
    const id = started.out.trim();
    expect(id).toMatch(/^\S+$/);

    const watched = await fedxray('rounds', 'watch', id, '--aggregator', aggregator.url);
    expect(watched.code, watched.out + watched.err).toBe(0);
    const lines = watched.out.split('\n');
    // Not a TTY here: plain lines, one per event.
    expect(watched.out).not.toContain('\x1b[');
    expect(lines[0]).toMatch(new RegExp(`^run ${id}: (pending|running)`));
    expect(lines).toContain('round 1 started: st-marys');
    expect(lines).toContain('round 2 started: st-marys');
    expect(lines.filter((l) => l.startsWith('round 1 st-marys: '))).toContain(
      'round 1 st-marys: accepted',
    );
    expect(lines.some((l) => /^round 2 completed: model v3, train loss \d/.test(l))).toBe(true);
    expect(lines).toContain('run completed after 2 round(s): final model v3 (not promoted)');
    // The table: a header and one row per round, from GET /rounds/{id}.
    const header = lines.findIndex((l) => l.startsWith('round  status'));
    expect(header).toBeGreaterThan(0);
    expect(lines[header + 1]).toMatch(/^1\s+completed\s+1\/1\s+\d+\.\d{4}/);
    expect(lines[header + 2]).toMatch(/^2\s+completed\s+1\/1\s+\d+\.\d{4}/);

    const run = await new AggregatorClient({ baseUrl: aggregator.url }).getRun(id);
    expect(run.settings).toMatchObject({ rounds: 2, inputSize: 32, width: 8, promote: false });

    // A run already finished: the snapshot, the final event, the table at once.
    const again = await fedxray('rounds', 'watch', id, '--aggregator', aggregator.url);
    expect(again.code).toBe(0);
    expect(again.out).toContain(`run ${id}: completed, round 2 of 2`);
  }, 120_000);

  it('exits 1 when the watched run fails, and prints why', async () => {
    const started = await fedxray(
      'rounds',
      'start',
      '--aggregator',
      aggregator.url,
      '--token',
      ADMIN_TOKEN,
      '--min-hospitals',
      '3',
      ...TINY_FLAGS,
    );
    expect(started.code, started.err).toBe(0);
    const watched = await fedxray(
      'rounds',
      'watch',
      started.out.trim(),
      '--aggregator',
      aggregator.url,
    );
    expect(watched.code).toBe(1);
    expect(watched.out).toMatch(/run failed: .*hospital/);
    expect(watched.out).toMatch(/\nfailed: .*hospital/);
  }, 60_000);

  it("answers the aggregator's error: a wrong token, an unknown run, bad usage", async () => {
    const wrong = await fedxray(
      'rounds',
      'start',
      '--aggregator',
      aggregator.url,
      '--token',
      'nope',
    );
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/POST \/rounds: HTTP 401 \S+: /);

    const unknown = await fedxray('rounds', 'watch', 'no-such-run', '--aggregator', aggregator.url);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('HTTP 404 run-not-found');

    const usage = await fedxray('rounds', 'start', '--aggregator', aggregator.url);
    expect(usage.code).toBe(2);
    expect(usage.err).toContain('--token is required');
    expect((await fedxray('rounds', 'stop')).code).toBe(2);
  });

  it('throws ApiError with the JSON error body from the client', async () => {
    const client = new AggregatorClient({ baseUrl: aggregator.url, token: 'nope' });
    const error = await client.startRun({}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 401, body: { error: { message: expect.any(String) } } });
  });
});

describe('fedxray diagnose', () => {
  let api: string;
  const images: string[] = [];

  beforeAll(async () => {
    await writeTinyModelDir(join(work, 'model'));
    const app = await buildInferenceApp({
      modelDir: join(work, 'model'),
      maxUploadBytes: 1 << 20,
      stateDir: join(work, 'inference-state'),
    });
    cleanups.push(() => app.close());
    api = await app.listen({ port: 0, host: '127.0.0.1' });
    for (const label of ['NORMAL', 'PNEUMONIA']) {
      const [name] = (await readdir(join(SAMPLE_DATA_DIR, label))).sort();
      images.push(join(SAMPLE_DATA_DIR, label, name));
    }
  }, 60_000);

  it('prints one line per file', async () => {
    const { code, out } = await fedxray('diagnose', '--api', api, ...images);
    expect(code).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).toMatch(/^\S+\t(NORMAL|PNEUMONIA)\tp\(pneumonia\)=0\.\d{4}\tthreshold=0\.5000$/);
    }
  });

  it('writes each explanation heatmap as DIR/<file>.heatmap.png with --explain', async () => {
    const dir = join(work, 'heatmaps');
    const { code, out } = await fedxray(
      'diagnose',
      '--api',
      api,
      '--json',
      ...images,
      '--explain',
      dir,
    );
    expect(code).toBe(0);
    const answers = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { file: string; label: string; heatmap: string });
    expect(answers.map((a) => a.file)).toEqual(images);
    for (const answer of answers) {
      expect(answer.label).toMatch(/^(NORMAL|PNEUMONIA)$/);
      expect(answer).not.toHaveProperty('explanation');
      const png = await readFile(answer.heatmap);
      const source = await sharp(answer.file).metadata();
      const meta = await sharp(png).metadata();
      expect(meta.format).toBe('png');
      expect([meta.width, meta.height]).toEqual([source.width, source.height]);
    }
    expect((await readdir(dir)).sort()).toEqual(
      images.map((f) => `${f.split('/').pop()}.heatmap.png`).sort(),
    );
  });

  it('reports a file the API refuses with its error, and exits 1', async () => {
    const bad = join(work, 'notes.txt');
    await writeFile(bad, 'not an x-ray');
    const { code, out } = await fedxray('diagnose', '--api', api, '--json', images[0], bad);
    expect(code).toBe(1);
    const [good, refused] = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(good).toMatchObject({ file: images[0], disclaimer: expect.any(String) });
    expect(refused).toMatchObject({
      file: bad,
      error: expect.stringMatching(/^POST \/diagnose: HTTP 400 corrupt: /),
    });
  });
});
