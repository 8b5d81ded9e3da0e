/**
 * The three services built in-process on tiny state, for tests that read their OpenAPI
 * documents (GET /docs/json) or call them through shared/client.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll } from 'vitest';
import { buildApp as buildHospital } from '../../services/hospital-node/app.ts';
import { freshState, startAggregator } from '../aggregator/helpers.ts';
import { hospitalConfig, makeHospitalData } from '../hospital-node/fixtures.ts';
import { writeTinyModelDir } from '../inference-api/fixtures.ts';
import { buildInferenceApp } from '../inference-api/test-app.ts';
import { useTestBackend } from '../helpers/tiny.ts';

export type ServiceName = 'aggregator' | 'hospital-node' | 'inference-api';

export interface ServiceApps {
  apps: Record<ServiceName, FastifyInstance>;
  close(): Promise<void>;
}

/** An aggregator (pglite), a hospital node (sample images) and an inference API (tiny model). */
export async function buildServiceApps(): Promise<ServiceApps> {
  await useTestBackend();
  const state = await freshState('pglite');
  const dir = await mkdtemp(join(tmpdir(), 'fedxray-openapi-'));
  const data = await makeHospitalData(4);
  const closers: Array<() => Promise<unknown>> = [];
  try {
    const aggregator = await startAggregator(state.test.db, state.stateDir);
    closers.push(() => aggregator.app.close());
    const hospital = await buildHospital(hospitalConfig(data.dir, aggregator.url), {
      logger: false,
    });
    closers.push(() => hospital.close());
    await writeTinyModelDir(join(dir, 'model'));
    const inference = await buildInferenceApp({
      modelDir: join(dir, 'model'),
      maxUploadBytes: 1 << 20,
      stateDir: join(dir, 'state'),
    });
    closers.push(() => inference.close());
    await inference.ready();
    return {
      apps: { aggregator: aggregator.app, 'hospital-node': hospital, 'inference-api': inference },
      close: async () => {
        for (const close of closers.reverse()) await close();
        await state.cleanup();
        await rm(dir, { recursive: true, force: true });
        await rm(data.dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await close();
    await state.cleanup();
    await rm(dir, { recursive: true, force: true });
    await rm(data.dir, { recursive: true, force: true });
    throw error;
  }
}

/** A service's OpenAPI document, as Swagger UI reads it. */
export async function openApiDocument(app: FastifyInstance): Promise<OpenApiDocument> {
  const res = await app.inject({ method: 'GET', url: '/docs/json' });
  if (res.statusCode !== 200) throw new Error(`GET /docs/json answered ${res.statusCode}`);
  return res.json<OpenApiDocument>();
}

export interface OpenApiOperation {
  requestBody?: { content?: Record<string, { schema?: JsonSchema; example?: unknown }> };
  parameters?: Array<{ in: string; name: string; schema?: JsonSchema; example?: unknown }>;
  responses?: Record<
    string,
    { description?: string; content?: Record<string, { schema?: JsonSchema; example?: unknown }> }
  >;
}

export type JsonSchema = Record<string, unknown>;

export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
}

/**
 * For a test file: builds the three apps before its tests and reads their OpenAPI documents
 * into the returned record; closes the apps after.
 */
export function useServiceDocuments(): Record<ServiceName, OpenApiDocument> {
  const documents = {} as Record<ServiceName, OpenApiDocument>;
  let services: ServiceApps | undefined;
  beforeAll(async () => {
    services = await buildServiceApps();
    for (const [name, app] of Object.entries(services.apps)) {
      documents[name as ServiceName] = await openApiDocument(app);
    }
  }, 180_000);
  afterAll(async () => {
    await services?.close();
  });
  return documents;
}
