/**
 * The inference API as most tests build it: on loopback, no polling, logs off, an upload limit
 * of 2 MiB unless the test says otherwise; `useInferenceApp` also makes (and removes) the temp
 * directory the model is written to.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { buildApp, type AppDeps, type InferenceApp } from '../../services/inference-api/app.ts';
import type { InferenceConfig } from '../../services/inference-api/config.ts';
import { useTestBackend } from '../helpers/tiny.ts';

export const TEST_MAX_UPLOAD_BYTES = 2 * 1024 * 1024;

/** The test defaults (port 0, 127.0.0.1, modelPollSeconds 0, 2 MiB uploads) with `overrides`. */
export function inferenceTestConfig(overrides: Partial<InferenceConfig> = {}): InferenceConfig {
  return {
    port: 0,
    host: '127.0.0.1',
    modelPollSeconds: 0,
    maxUploadBytes: TEST_MAX_UPLOAD_BYTES,
    ...overrides,
  };
}

/** buildApp on the test defaults, logger off unless `deps` names one; not yet ready. */
export function buildInferenceApp(
  overrides: Partial<InferenceConfig> = {},
  deps: AppDeps = {},
): Promise<InferenceApp> {
  return buildApp(inferenceTestConfig(overrides), { logger: false, ...deps });
}

/** buildInferenceApp, then app.ready() (the app is closed if that throws). */
export async function startInferenceApp(
  overrides: Partial<InferenceConfig> = {},
  deps: AppDeps = {},
): Promise<InferenceApp> {
  const app = await buildInferenceApp(overrides, deps);
  try {
    await app.ready();
  } catch (error) {
    await app.close();
    throw error;
  }
  return app;
}

export interface ServedInferenceApp {
  /** The ready app (set in beforeAll). */
  app: InferenceApp;
  /** The temp directory `prepare` wrote into (set in beforeAll). */
  dir: string;
}

/**
 * For a test file: before its tests, the test backend, a temp directory (`prefix`), `prepare`
 * (writes the model there and gives the config overrides) and a ready app; after them, the app
 * closed and the directory removed. Fields of the returned object are set in beforeAll.
 */
export function useInferenceApp(
  prefix: string,
  prepare: (dir: string) => Promise<Partial<InferenceConfig>>,
  deps: AppDeps = {},
): ServedInferenceApp {
  const served = {} as ServedInferenceApp;
  beforeAll(async () => {
    await useTestBackend();
    served.dir = await mkdtemp(join(tmpdir(), prefix));
    served.app = await startInferenceApp(await prepare(served.dir), deps);
  });
  afterAll(async () => {
    await served.app?.close();
    if (served.dir) await rm(served.dir, { recursive: true, force: true });
  });
  return served;
}
