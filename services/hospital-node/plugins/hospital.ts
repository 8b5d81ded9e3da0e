import type { FastifyBaseLogger, onRequestAsyncHookHandler } from 'fastify';
import { AggregatorClient } from '../lib/aggregator-client.ts';
import { LocalEngine } from '../lib/engine.ts';
import { publicMessage } from '../lib/errors.ts';
import { JobManager } from '../lib/job-manager.ts';
import { JobStore } from '../lib/job-store.ts';
import type { HospitalMetrics } from '../lib/hospital-metrics.ts';
import { loadLocalData, type LocalData } from '../lib/local-data.ts';
import type { RetryPolicy } from '../lib/retry.ts';
import { runTrainJob } from '../lib/train-job.ts';
import { ConfigError } from '../../../shared/service/config.ts';
import { tokenFile } from '../../../shared/service/secret-file.ts';
import type { HospitalConfig } from '../config.ts';
import { requireToken } from './auth.ts';

/** What buildApp lets tests and embedders replace. */
export interface HospitalDeps {
  fetch?: typeof fetch;
  /** Retries of a request to the aggregator (default DEFAULT_RETRY_POLICY: 6 tries over 30 s). */
  retry?: RetryPolicy;
  aggregatorTimeoutMs?: number;
}

/** Everything the routes use; built once per app. */
export interface HospitalContext {
  config: HospitalConfig;
  data: LocalData;
  engine: LocalEngine;
  client: AggregatorClient;
  jobs: JobManager;
  requireToken: onRequestAsyncHookHandler;
  /** A failure as it may be told outside the hospital. */
  describeError: (error: unknown) => string;
  close: () => Promise<void>;
}

export async function createHospitalContext(
  config: HospitalConfig,
  deps: HospitalDeps,
  log: FastifyBaseLogger,
  metrics?: HospitalMetrics,
): Promise<HospitalContext> {
  const data = await loadLocalData(config.dataDir, {
    valFraction: config.valFraction,
    seed: config.seed,
  });
  const describeError = (error: unknown): string => publicMessage(error, data.identifiers);
  const engine = new LocalEngine(data, { trainThreads: config.trainThreads ?? 1 });
  const token = hospitalToken(config, log);
  const client = new AggregatorClient({
    baseUrl: config.aggregatorUrl,
    token,
    fetch: deps.fetch,
    retry: deps.retry,
    timeoutMs: deps.aggregatorTimeoutMs,
  });
  const store = config.stateDir === undefined ? undefined : new JobStore(config.stateDir);
  const jobs = new JobManager({
    run: (job, plan, signal) =>
      runTrainJob(job, plan, {
        client,
        engine,
        hospitalId: config.hospitalId,
        signal,
        onTrained: (images, seconds) => metrics?.trained(images, seconds),
      }),
    onFinished: (job) => metrics?.jobFinished(job),
    describeError,
    // The local log may name local files; it stays in the hospital.
    logError: (message, error) => log.error({ err: error }, message),
    store,
    initial: store ? await store.load() : [],
  });
  metrics?.observeJobs(() => jobs.countByStatus());
  log.info(
    { train: data.counts.train, validation: data.counts.validation },
    'local dataset loaded and split by patient',
  );
  return {
    config,
    data,
    engine,
    client,
    jobs,
    requireToken: requireToken(token),
    describeError,
    close: async () => {
      await jobs.close();
      await engine.dispose();
    },
  };
}

/**
 * The hospital's token in force: HOSPITAL_TOKEN, or HOSPITAL_TOKEN_FILE re-read when it
 * changes (checked at most once a second), so a rotated token (POST /hospitals/{id}/token on
 * the aggregator) is taken up without a restart. A bad file later keeps the token in force.
 */
function hospitalToken(config: HospitalConfig, log: FastifyBaseLogger): () => string {
  if (config.hospitalTokenFile !== undefined) {
    const file = tokenFile({
      variable: 'HOSPITAL_TOKEN_FILE',
      path: config.hospitalTokenFile,
      onProblem: (message) => log.warn(message),
      onChange: () => log.info('HOSPITAL_TOKEN_FILE changed: the new hospital token is in use'),
    });
    return () => file.current();
  }
  const token = config.hospitalToken;
  if (token === undefined)
    throw new ConfigError(
      'Invalid configuration:\n  HOSPITAL_TOKEN or HOSPITAL_TOKEN_FILE is required (the token the aggregator issued)',
    );
  return () => token;
}
