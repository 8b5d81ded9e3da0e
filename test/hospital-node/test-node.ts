/**
 * A hospital node as most of its tests set it up: a small hospital's data, a fake aggregator
 * that knows TOKEN, and the node built on them (logger off, quick retries unless `deps` says
 * otherwise); all closed and removed after the file's tests.
 */
import { rm } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll } from 'vitest';
import { buildApp, type BuildAppDeps } from '../../services/hospital-node/app.ts';
import type { HospitalConfig } from '../../services/hospital-node/config.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { startFakeAggregator, type FakeAggregator } from './fake-aggregator.ts';
import { hospitalConfig, makeHospitalData, TOKEN, type LocalSecrets } from './fixtures.ts';

export interface TestHospitalNode {
  /** The hospital's data (set in beforeAll). */
  secrets: LocalSecrets;
  /** The fake aggregator it talks to (set in beforeAll). */
  fake: FakeAggregator;
  /** The node (set in beforeAll). */
  node: FastifyInstance;
}

export interface TestHospitalNodeOptions {
  /** Sample images per class (makeHospitalData). */
  perClass: number;
  /** Overrides of hospitalConfig, made once the data and the fake aggregator exist. */
  config?: (
    setup: Omit<TestHospitalNode, 'node'>,
  ) => Partial<HospitalConfig> | Promise<Partial<HospitalConfig>>;
  /** buildApp's deps, over `{ logger: false, retry: { retries: 2, minTimeoutMs: 20 } }`. */
  deps?: BuildAppDeps;
}

/**
 * For a test file: before its tests, the test backend, the data, the fake aggregator and the
 * node; after them, the node and the aggregator closed and the data removed. The fields of the
 * returned object are set in beforeAll.
 */
export function useHospitalNode(options: TestHospitalNodeOptions): TestHospitalNode {
  const setup = {} as TestHospitalNode;
  beforeAll(async () => {
    await useTestBackend();
    setup.secrets = await makeHospitalData(options.perClass);
    setup.fake = await startFakeAggregator(TOKEN);
    const overrides = (await options.config?.(setup)) ?? {};
    setup.node = await buildApp(hospitalConfig(setup.secrets.dir, setup.fake.url, overrides), {
      logger: false,
      retry: { retries: 2, minTimeoutMs: 20 },
      ...options.deps,
    });
  });
  afterAll(async () => {
    await setup.node?.close();
    await setup.fake?.close();
    if (setup.secrets) await rm(setup.secrets.dir, { recursive: true, force: true });
  });
  return setup;
}
