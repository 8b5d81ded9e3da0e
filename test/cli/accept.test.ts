/** fedxray accept against a real inference API on loopback, with a tiny model. */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferenceApp } from '../../services/inference-api/app.ts';
import { InferenceApiClient } from '../../shared/client/index.ts';
import type { AcceptanceReport } from '../../shared/cli/acceptance.ts';
import { loadDataset, SAMPLE_DATA_DIR } from '../../shared/data/index.ts';
import { computeMetrics, confusionMatrix } from '../../shared/metrics/index.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { writeTinyModelDir } from '../inference-api/fixtures.ts';
import { buildInferenceApp } from '../inference-api/test-app.ts';
import { runMain, type MainResult } from './run-main.ts';

const TOKEN = 'accept-admin-token-0123456789';
const PER_CLASS = 6;

let work: string;
let dataDir: string;
let app: InferenceApp;
let api: string;
/** Labels and probabilities from direct /diagnose calls, in loadDataset's order. */
const direct = { labels: [] as number[], probabilities: [] as number[] };

type AcceptJson = AcceptanceReport & {
  set: null | { done: boolean; threshold?: number; thresholdSource?: string; error?: string };
};

beforeAll(async () => {
  await useTestBackend();
  work = await mkdtemp(join(tmpdir(), 'fedxray-accept-'));
  dataDir = join(work, 'site');
  for (const label of ['NORMAL', 'PNEUMONIA']) {
    await mkdir(join(dataDir, label), { recursive: true });
    const names = (await readdir(join(SAMPLE_DATA_DIR, label))).sort().slice(0, PER_CLASS);
    for (const name of names) {
      await copyFile(join(SAMPLE_DATA_DIR, label, name), join(dataDir, label, name));
    }
  }
  await writeTinyModelDir(join(work, 'model'));
  app = await buildInferenceApp({
    modelDir: join(work, 'model'),
    maxUploadBytes: 1024 * 1024,
    rateLimitPerMinute: 0,
    adminToken: TOKEN,
    stateDir: join(work, 'state'),
  });
  api = await app.listen({ port: 0, host: '127.0.0.1' });
  const client = new InferenceApiClient({ baseUrl: api });
  for (const record of await loadDataset(dataDir)) {
    const answer = await client.diagnose(await readFile(record.path), 'x.jpg');
    direct.labels.push(record.label);
    direct.probabilities.push(answer.probability);
  }
});

afterAll(async () => {
  await app?.close();
  await rm(work, { recursive: true, force: true });
});

/** Runs `fedxray accept ...` in this process; stdout and stderr are captured. */
function accept(...argv: string[]): Promise<MainResult> {
  return runMain(['accept', ...argv]);
}

async function acceptJson(...argv: string[]): Promise<{ code: number; json: AcceptJson }> {
  const { code, out, err } = await accept('--api', api, '--json', '--bootstrap', '200', ...argv);
  if (out === '') throw new Error(`no output (exit ${code}): ${err}`);
  return { code, json: JSON.parse(out) as AcceptJson };
}

async function current(): Promise<Record<string, unknown>> {
  return (await fetch(`${api}/models/current`)).json() as Promise<Record<string, unknown>>;
}

function sensitivityAt(threshold: number): number {
  const { tp, fn } = confusionMatrix(direct.labels, direct.probabilities, threshold);
  return tp / (tp + fn);
}

describe('fedxray accept', () => {
  it("reports the metrics at the API's threshold, as direct /diagnose calls give them", async () => {
    const { code, json } = await acceptJson('--data', dataDir);
    expect(code).toBe(0);
    expect(json).toMatchObject({
      n: 2 * PER_CLASS,
      images: { NORMAL: PER_CLASS, PNEUMONIA: PER_CLASS },
      failed: [],
      target: null,
      set: null,
    });
    expect(json.model.sha256).toBe((await current()).sha256);
    expect(json.current.threshold).toBe(0.5);
    expect(json.current.thresholdSource).toBe('model');
    expect(json.current.metrics).toEqual(
      computeMetrics(direct.labels, direct.probabilities, {
        threshold: 0.5,
        bootstrapSamples: 200,
        seed: 42,
      }),
    );
    expect(json.scores.brier.value).toBeGreaterThan(0);
  });

  it('finds the highest threshold reaching a target sensitivity on these images', async () => {
    const { code, json } = await acceptJson('--data', dataDir, '--target-sensitivity', '0.8');
    expect(code).toBe(0);
    const target = json.target;
    if (!target?.reached) throw new Error('target not reached');
    expect(target.metric).toBe('sensitivity');
    expect(sensitivityAt(target.threshold)).toBeGreaterThanOrEqual(0.8);
    const higher = Math.min(
      ...direct.probabilities.filter((p) => p > target.threshold),
      target.threshold + 1e-9,
    );
    expect(sensitivityAt(higher)).toBeLessThan(0.8);
    expect(target.achieved).toMatchObject({ trials: PER_CLASS, ci95: target.metrics.recall.ci95 });
    expect(target.note).toMatch(/interval is wide/);
  });

  it('finds the lowest threshold reaching a target specificity', async () => {
    const { json } = await acceptJson('--data', dataDir, '--target-specificity', '0.5');
    const target = json.target;
    if (!target?.reached) throw new Error('target not reached');
    expect(target.metrics.specificity.value).toBeGreaterThanOrEqual(0.5);
    const normals = direct.probabilities
      .filter((_, i) => direct.labels[i] === 0)
      .sort((a, b) => a - b);
    expect(target.threshold).toBeGreaterThan(normals[PER_CLASS / 2 - 1]);
    const { tn, fp } = confusionMatrix(direct.labels, direct.probabilities, normals[2]);
    expect(tn / (tn + fp)).toBeLessThan(0.5);
  });

  it('prints a readable table without --json', async () => {
    const { code, out } = await accept('--api', api, '--data', dataDir, '--bootstrap', '0');
    expect(code).toBe(0);
    expect(out).toContain(`${2 * PER_CLASS} images of ${dataDir}`);
    expect(out).toContain("At the API's threshold 0.5 (the model's own)");
    expect(out).toContain('| Recall (sensitivity)');
  });

  it('--set puts the threshold in force on the API', async () => {
    const wrong = await acceptJson(
      ...['--data', dataDir, '--target-sensitivity', '0.8', '--set'],
      ...['--admin-token', 'not-the-admin-token-000', '--reason', 'site acceptance'],
    );
    expect(wrong.code).toBe(1);
    expect(wrong.json.set).toMatchObject({ done: false, error: expect.stringMatching(/401/) });
    expect((await current()).thresholdSource).toBe('model');

    const { code, json } = await acceptJson(
      ...['--data', dataDir, '--target-sensitivity', '0.8', '--set'],
      ...['--admin-token', TOKEN, '--reason', 'site acceptance, 12 images'],
    );
    expect(code).toBe(0);
    if (!json.target?.reached) throw new Error('target not reached');
    const threshold = json.target.threshold;
    expect(json.set).toEqual({
      done: true,
      threshold,
      thresholdSource: 'site',
      modelId: json.model.id,
    });
    expect(await current()).toMatchObject({
      threshold,
      thresholdSource: 'site',
      modelThreshold: 0.5,
      operatingPoint: {
        threshold,
        reason: 'site acceptance, 12 images',
        basis: {
          n: 2 * PER_CLASS,
          target: { metric: 'sensitivity', value: 0.8 },
          sensitivity: json.target.achieved.value,
        },
      },
    });
    const after = await acceptJson('--data', dataDir);
    expect(after.json.current).toMatchObject({ threshold, thresholdSource: 'site' });
  });

  it('counts an image the API refuses and carries on', async () => {
    const broken = join(work, 'broken');
    await mkdir(join(broken, 'NORMAL'), { recursive: true });
    await mkdir(join(broken, 'PNEUMONIA'), { recursive: true });
    const normal = (await readdir(join(dataDir, 'NORMAL')))[0];
    const pneumonia = (await readdir(join(dataDir, 'PNEUMONIA')))[0];
    await copyFile(join(dataDir, 'NORMAL', normal), join(broken, 'NORMAL', normal));
    await copyFile(join(dataDir, 'PNEUMONIA', pneumonia), join(broken, 'PNEUMONIA', pneumonia));
    await writeFile(join(broken, 'PNEUMONIA', 'corrupt.jpg'), Buffer.from('not an image'));
    const { code, json } = await acceptJson('--data', broken);
    expect(code).toBe(1);
    expect(json.n).toBe(2);
    expect(json.failed).toEqual([
      {
        path: join(broken, 'PNEUMONIA', 'corrupt.jpg'),
        status: 400,
        error: expect.stringMatching(/corrupt/),
      },
    ]);
  });

  it('answers bad usage with exit code 2', async () => {
    for (const argv of [
      ['--data', dataDir, '--set', '--admin-token', TOKEN, '--reason', 'x'],
      ['--data', dataDir, '--target-sensitivity', '0.9', '--target-specificity', '0.9'],
      ['--data', dataDir, '--target-sensitivity', '0.9', '--set', '--admin-token', TOKEN],
      ['--data', dataDir, '--target-sensitivity', '1.5'],
      ['--data', dataDir, '--reason', 'without --set'],
    ]) {
      const { code, err } = await accept('--api', api, ...argv);
      expect(code, argv.join(' ')).toBe(2);
      expect(err).toMatch(/^fedxray accept: /);
    }
    expect((await accept('--api', 'localhost:3200', '--data', dataDir)).code).toBe(2);
  });
});

describe('InferenceApiClient with retry', () => {
  const ok = { label: 'NORMAL', probability: 0.2, threshold: 0.5, model: { id: 'm', sha256: 's' } };

  it('retries 429 and 503, honouring retry-after, and gives up after its attempts', async () => {
    const answers = [
      new Response('{}', { status: 429, headers: { 'retry-after': '2' } }),
      new Response('{}', { status: 503 }),
      Response.json(ok),
    ];
    const waits: number[] = [];
    const client = new InferenceApiClient({
      baseUrl: 'http://api.invalid/',
      fetch: async () => answers.shift() ?? Response.json(ok),
      retry: { sleep: async (ms) => void waits.push(ms) },
    });
    expect(await client.diagnose(new Uint8Array([1]), 'x.png')).toEqual(ok);
    expect(waits).toEqual([2000, 1000]);

    let tries = 0;
    const busy = new InferenceApiClient({
      baseUrl: 'http://api.invalid',
      fetch: async () => {
        tries++;
        return Response.json({ error: { code: 'busy', message: 'too many' } }, { status: 503 });
      },
      retry: { attempts: 3, sleep: async () => undefined },
    });
    await expect(busy.diagnose(new Uint8Array([1]), 'x.jpg')).rejects.toMatchObject({
      status: 503,
      message: expect.stringMatching(/HTTP 503 busy: too many/),
    });
    expect(tries).toBe(3);
  });

  it('does not retry other answers', async () => {
    let calls = 0;
    const client = new InferenceApiClient({
      baseUrl: 'http://api.invalid',
      retry: {},
      fetch: async () => {
        calls++;
        return Response.json({ error: { code: 'corrupt', message: 'bad' } }, { status: 400 });
      },
    });
    await expect(client.diagnose(new Uint8Array([1]), 'x.jpg')).rejects.toMatchObject({
      status: 400,
    });
    expect(calls).toBe(1);
  });
});
