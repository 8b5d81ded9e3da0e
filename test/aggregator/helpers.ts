import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AggregatorDeps } from '../../services/aggregator/app.ts';
import type { AggregatorConfig } from '../../services/aggregator/config.ts';
import type { Database, DatabaseKind } from '../../shared/db/index.ts';
import { createTestDatabase, type TestDatabase } from '../../shared/db/testing.ts';

export const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';
export const ADMIN = `Bearer ${ADMIN_TOKEN}`;

/** An error answer of the aggregator. */
export interface ErrorBody {
  error: { code: string; message: string };
}

/** What POST /hospitals/{id}/token and POST /readers/{id}/token answer. */
export interface TokenRotatedBody {
  id: string;
  name: string;
  token: string;
  tokenRotatedAt: string;
  previousTokenExpiresAt: string | null;
}

/** Quick polling and health checks: rounds in tests take well under a second. */
export const FAST: AggregatorDeps = {
  logger: process.env.FEDXRAY_TEST_LOG ? { level: process.env.FEDXRAY_TEST_LOG } : false,
  jobPollMs: 100,
  healthTimeoutMs: 1_000,
  requestTimeoutMs: 3_000,
  evaluateTimeoutMs: 10_000,
  keepAliveMs: 200,
};

export interface Aggregator {
  app: FastifyInstance;
  url: string;
  port: number;
}

/**
 * An aggregator on an ephemeral port (or `port`), on a given database and state directory
 * (`config`: over the test's; e.g. requestTimeoutMs, 0 by default).
 */
export async function startAggregator(
  database: Database,
  stateDir: string,
  options: { port?: number; deps?: AggregatorDeps; config?: Partial<AggregatorConfig> } = {},
): Promise<Aggregator> {
  const app = await buildApp(
    { port: 0, host: '127.0.0.1', stateDir, adminToken: ADMIN_TOKEN, ...options.config },
    { ...FAST, ...options.deps, database },
  );
  const url = await app.listen({ port: options.port ?? 0, host: '127.0.0.1' });
  return { app, url, port: Number(new URL(url).port) };
}

/** A fresh database (of `kind`) and state directory per test. */
export async function freshState(
  kind: DatabaseKind,
): Promise<{ test: TestDatabase; stateDir: string; cleanup(): Promise<void> }> {
  const test = await createTestDatabase(kind);
  const stateDir = await mkdtemp(path.join(tmpdir(), 'fedxray-aggregator-'));
  return {
    test,
    stateDir,
    cleanup: async () => {
      await test.cleanup();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

export interface RunBody {
  [key: string]: unknown;
}

export const TINY_RUN: RunBody = {
  architecture: 'se-resnet18-gn',
  inputSize: 32,
  width: 8,
  rounds: 2,
  localEpochs: 1,
  batchSize: 8,
  roundTimeoutSeconds: 8,
};

export async function json<T = Record<string, unknown>>(
  url: string,
  init: RequestInit & { token?: string } = {},
): Promise<{ status: number; body: T }> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('authorization', `Bearer ${init.token}`);
  if (init.body !== undefined) headers.set('content-type', 'application/json');
  const res = await fetch(url, { ...init, headers });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

export interface RunDetailBody {
  id: string;
  status: string;
  failureReason: string | null;
  currentRound: number;
  finalModelId: string | null;
  settings: Record<string, unknown>;
  rounds: {
    index: number;
    round: number;
    status: string;
    selectedHospitalIds: string[];
    failureReason: string | null;
    inputModelId: string | null;
    outputModelId: string | null;
    metrics: Record<string, unknown> | null;
    updates: {
      hospitalId: string;
      hospitalName: string;
      status: string;
      failureReason: string | null;
      numSamples: number | null;
      durationMs: number | null;
      jobId: string | null;
    }[];
  }[];
}

/** Polls GET /rounds/:id until `until` holds (default: the run has ended). */
export async function waitForRun(
  url: string,
  runId: string,
  until: (run: RunDetailBody) => boolean = (run) =>
    ['completed', 'failed', 'cancelled'].includes(run.status),
  timeoutMs = 60_000,
): Promise<RunDetailBody> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, body } = await json<RunDetailBody>(`${url}/rounds/${runId}`);
    if (status !== 200) throw new Error(`GET /rounds/${runId} answered ${status}`);
    if (until(body)) return body;
    if (Date.now() > deadline) {
      throw new Error(`run ${runId} stuck: ${JSON.stringify(body, null, 1).slice(0, 3000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A URL where nothing listens. */
export async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

export async function registerHospital(
  url: string,
  name: string,
  baseUrl: string,
): Promise<{ id: string; token: string }> {
  const { status, body } = await json<{ id: string; token: string }>(`${url}/hospitals`, {
    method: 'POST',
    token: ADMIN_TOKEN,
    body: JSON.stringify({ name, baseUrl }),
  });
  if (status !== 201)
    throw new Error(`POST /hospitals answered ${status}: ${JSON.stringify(body)}`);
  return body;
}
