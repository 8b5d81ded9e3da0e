import type { FastifyBaseLogger } from 'fastify';
import type { AggregatorClient } from './aggregator-client.ts';
import { loadAggregatorModel } from './aggregator-source.ts';
import { loadDirectoryModel } from './directory-source.ts';
import type { InferenceMetrics } from './inference-metrics.ts';
import type { InferRuntime } from './infer-runtime.ts';
import type { LoadedModel } from './loaded-model.ts';
import { ModelRegistry, type Lease } from './model-registry.ts';
import type { ProductionModel } from './production-model.ts';

export type ReloadStatus =
  /** A new production model was loaded and swapped in. */
  | 'loaded'
  /** The production model is the one already loaded. */
  | 'unchanged'
  /** The aggregator has no production model (404); the current model, if any, stays. */
  | 'no-production-model'
  /** The aggregator could not be read or the model could not be loaded; the current model stays. */
  | 'failed'
  /** No AGGREGATOR_URL: nothing to poll. */
  | 'no-aggregator';

export interface ReloadOutcome {
  status: ReloadStatus;
  modelId?: string;
  error?: string;
}

export interface ModelServiceStatus {
  /** A new model is being downloaded or built. */
  loading: boolean;
  /** Why the last poll or load failed; null after a successful one. */
  lastError: string | null;
  lastPollAt: string | null;
}

export interface ModelServiceOptions {
  log: FastifyBaseLogger;
  modelDir?: string;
  client?: AggregatorClient;
  /** 0: poll only at start and on reload(). */
  pollSeconds: number;
  /** Load times, failures and the model in service (GET /metrics). */
  metrics?: InferenceMetrics;
  /** Moves each loaded model onto onnxruntime when it can (absent: tfjs). */
  runtime?: InferRuntime;
}

/**
 * Keeps the current model: the MODEL_DIR model at start, then the aggregator's production
 * model, polled. A new model is loaded completely in the background and then swapped in;
 * a failed load keeps the current model. Polls never overlap: reload() queues behind a
 * running one.
 */
export class ModelService {
  private readonly registry = new ModelRegistry<LoadedModel>();
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private state: ModelServiceStatus = { loading: false, lastError: null, lastPollAt: null };
  private lastLogged: string | undefined;

  constructor(private readonly options: ModelServiceOptions) {}

  get current(): LoadedModel | undefined {
    return this.registry.current;
  }

  get status(): ModelServiceStatus {
    return { ...this.state };
  }

  /** A lease on the current model for one request, or undefined when none is loaded. */
  acquire(): Lease<LoadedModel> | undefined {
    return this.registry.acquire();
  }

  /** Loads MODEL_DIR, if set; a model directory that does not load is a configuration error. */
  async loadDirectory(): Promise<void> {
    const dir = this.options.modelDir;
    if (dir === undefined) return;
    const started = performance.now();
    let loaded: LoadedModel;
    try {
      loaded = await this.onRuntime(await loadDirectoryModel(dir), dir);
    } catch (error) {
      throw new Error(`MODEL_DIR ${dir} cannot be loaded: ${describe(error)}`, { cause: error });
    }
    this.registry.swap(loaded);
    this.options.metrics?.modelLoaded(loaded.info, (performance.now() - started) / 1000);
    this.options.log.info({ model: loaded.info }, 'model loaded from MODEL_DIR');
  }

  /** Polls the aggregator now (in the background), then every pollSeconds. */
  start(): void {
    if (!this.options.client) return;
    void this.reload().finally(() => this.schedule());
  }

  /** Polls the aggregator once, after any poll already running; never rejects. */
  reload(): Promise<ReloadOutcome> {
    const next = this.queue.then(() => this.poll());
    this.queue = next;
    return next;
  }

  /** Stops polling, waits for a running poll, and disposes the model once requests are done. */
  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.queue;
    this.registry.close();
  }

  private schedule(): void {
    if (this.stopped || this.options.pollSeconds <= 0) return;
    this.timer = setTimeout(() => {
      void this.reload().finally(() => this.schedule());
    }, this.options.pollSeconds * 1000);
    this.timer.unref();
  }

  private async poll(): Promise<ReloadOutcome> {
    const { client, log } = this.options;
    if (!client) return { status: 'no-aggregator' };
    if (this.stopped) return { status: 'unchanged' };
    this.state.lastPollAt = new Date().toISOString();
    let production: ProductionModel | null;
    try {
      production = await client.productionModel();
    } catch (error) {
      return this.failed(`cannot read the production model: ${describe(error)}`);
    }
    if (production === null) {
      this.logOnce('no-production', () =>
        log.info('the aggregator has no production model yet; keeping the current model'),
      );
      this.state.lastError = null;
      return { status: 'no-production-model' };
    }
    const current = this.registry.current?.info;
    if (current?.id === production.id && current.sha256 === production.sha256) {
      this.state.lastError = null;
      this.lastLogged = undefined;
      return { status: 'unchanged', modelId: production.id };
    }

    log.info(
      { modelId: production.id, version: production.version },
      'loading a new production model',
    );
    this.state.loading = true;
    const started = performance.now();
    let loaded: LoadedModel;
    try {
      loaded = await this.onRuntime(await loadAggregatorModel(client, production));
    } catch (error) {
      return this.failed(
        `model ${production.id} could not be loaded: ${describe(error)}`,
        production.id,
      );
    } finally {
      this.state.loading = false;
    }
    if (this.stopped) {
      loaded.dispose();
      return { status: 'unchanged' };
    }
    this.registry.swap(loaded);
    this.options.metrics?.modelLoaded(loaded.info, (performance.now() - started) / 1000);
    this.state.lastError = null;
    this.lastLogged = undefined;
    log.info({ model: loaded.info, previous: current?.id ?? null }, 'production model swapped in');
    return { status: 'loaded', modelId: loaded.info.id };
  }

  private onRuntime(loaded: LoadedModel, dir?: string): Promise<LoadedModel> {
    return this.options.runtime
      ? this.options.runtime.prepare(loaded, dir)
      : Promise.resolve(loaded);
  }

  private failed(reason: string, modelId?: string): ReloadOutcome {
    this.state.lastError = reason;
    this.options.metrics?.pollFailed();
    const keeping = this.registry.current?.info.id;
    this.logOnce(reason, () =>
      this.options.log.warn(
        { reason, keeping: keeping ?? null },
        keeping
          ? `model update failed; keeping model ${keeping}`
          : 'model update failed; no model loaded',
      ),
    );
    return { status: 'failed', error: reason, ...(modelId ? { modelId } : {}) };
  }

  /** Logs a repeated condition (aggregator down, no production model) once, not every poll. */
  private logOnce(key: string, write: () => void): void {
    if (this.lastLogged === key) return;
    this.lastLogged = key;
    write();
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
