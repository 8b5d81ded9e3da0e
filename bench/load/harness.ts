/**
 * What the /diagnose load benchmarks (diagnose.ts, diagnose-flood.ts) share: the inference API
 * started in this process on 127.0.0.1, the model it serves, the sample JPEGs as multipart
 * uploads, number formatting, and the report printed as JSON followed by a Markdown table.
 */
import { existsSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InferenceApp } from '../../services/inference-api/app.ts';
import type { InferenceConfig } from '../../services/inference-api/config.ts';
import { SAMPLE_DATA_DIR } from '../../shared/data/sample.ts';
import type { BackendInfo } from '../../shared/tf/backend.ts';
import type { tf as Tf } from '../../shared/tf/tf.ts';

export const MB = 2 ** 20;

export const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Node's gc when run with --expose-gc. */
export const gc = (globalThis as { gc?: () => void }).gc;

/** The p-th percentile (nearest rank) of ascending values; NaN when there are none. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/**
 * Quiets the services' logs and loads the tf backend. The imports wait until FEDXRAY_QUIET is
 * set, hence dynamic.
 */
export async function loadQuietBackend(): Promise<{ tf: typeof Tf; backend: BackendInfo }> {
  process.env.FEDXRAY_QUIET = '1';
  const { tf } = await import('../../shared/tf/tf.ts');
  const { initBackend } = await import('../../shared/tf/backend.ts');
  return { tf, backend: await initBackend() };
}

/** `--model DIR`, else the shipped models/fl-se-resnet18-gn; undefined when neither is there. */
export function givenOrShippedModel(
  model: string | undefined,
): { dir: string; source: string } | undefined {
  if (model) return { dir: model, source: `--model ${model}` };
  const shipped = fileURLToPath(new URL('../../models/fl-se-resnet18-gn', import.meta.url));
  if (!existsSync(join(shipped, 'model.json'))) return undefined;
  return { dir: shipped, source: 'models/fl-se-resnet18-gn (shipped)' };
}

/**
 * Builds the inference API on 127.0.0.1 with the model in `modelDir`, no model polling and no
 * rate limit, `config` on top, and listens on a free port.
 */
export async function startInferenceApp(
  modelDir: string,
  config: Pick<InferenceConfig, 'maxUploadBytes'> & Partial<InferenceConfig>,
): Promise<{ app: InferenceApp; address: string; port: number }> {
  const { buildApp } = await import('../../services/inference-api/app.ts');
  const app = await buildApp(
    {
      port: 0,
      host: '127.0.0.1',
      modelDir,
      modelPollSeconds: 0,
      rateLimitPerMinute: 0,
      ...config,
    },
    { logger: false },
  );
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, address, port: (app.server.address() as AddressInfo).port };
}

/** The sample JPEGs of a class, in name order. */
export function sampleJpegs(label: 'NORMAL' | 'PNEUMONIA'): { name: string; path: string }[] {
  const dir = join(SAMPLE_DATA_DIR, label);
  return readdirSync(dir)
    .sort()
    .filter((name) => /\.jpe?g$/i.test(name))
    .map((name) => ({ name, path: join(dir, name) }));
}

/** One multipart/form-data body with `image` as its `image` file field. */
export function multipartBody(boundary: string, image: Buffer, filename: string): Buffer {
  return Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="${filename}"\r\n` +
        'Content-Type: image/jpeg\r\n\r\n',
    ),
    image,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
}

/** Where the benchmark ran: the fields every report starts with after its name. */
export function environment(backend: string): {
  date: string;
  node: string;
  cpus: number;
  cpuModel: string;
  backend: string;
} {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    backend,
  };
}

/** The report as JSON on stdout (and in `out`), then its Markdown table. */
export async function printReport(
  report: unknown,
  markdown: string,
  out: string | undefined,
): Promise<void> {
  const json = JSON.stringify(report, null, 2);
  if (out) await writeFile(out, json + '\n');
  process.stdout.write(json + '\n\n' + markdown + '\n');
}
