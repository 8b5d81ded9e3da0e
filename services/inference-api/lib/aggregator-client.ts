import { WEIGHTS_MEDIA_TYPE } from '../../../shared/weights/index.ts';
import { parseProductionModel, type ProductionModel } from './production-model.ts';

export type FetchFn = typeof fetch;

export interface AggregatorClientOptions {
  baseUrl: string;
  /**
   * Sent as `Authorization: Bearer` (the aggregator's weights need a token); a function is
   * asked before each request (AGGREGATOR_TOKEN_FILE, re-read when it changes).
   */
  token?: string | (() => string | undefined);
  fetch?: FetchFn;
  /** For GET /models/production. */
  metadataTimeoutMs?: number;
  /** For the weights download, which can be tens of megabytes. */
  weightsTimeoutMs?: number;
}

export class AggregatorError extends Error {
  override name = 'AggregatorError';
}

/** Reads the aggregator's production model and its packed weights (docs/protocol.md). */
export class AggregatorClient {
  readonly baseUrl: string;
  private readonly fetchFn: FetchFn;
  private readonly token: (() => string | undefined) | undefined;
  private readonly metadataTimeoutMs: number;
  private readonly weightsTimeoutMs: number;

  constructor(options: AggregatorClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetchFn = options.fetch ?? fetch;
    const token = options.token;
    this.token = typeof token === 'function' ? token : () => token;
    this.metadataTimeoutMs = options.metadataTimeoutMs ?? 10_000;
    this.weightsTimeoutMs = options.weightsTimeoutMs ?? 300_000;
  }

  /** The production model, or null while the aggregator has none (404). */
  async productionModel(): Promise<ProductionModel | null> {
    const response = await this.get(
      '/models/production',
      'application/json',
      this.metadataTimeoutMs,
    );
    if (response.status === 404) {
      await response.body?.cancel();
      return null;
    }
    await this.expectOk(response, 'GET /models/production');
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      throw new AggregatorError('GET /models/production did not answer JSON');
    }
    return parseProductionModel(body);
  }

  /** The packed weights (shared/weights/envelope.ts) of a model; not yet verified. */
  async weights(modelId: string): Promise<Buffer> {
    const path = `/models/${encodeURIComponent(modelId)}/weights`;
    const response = await this.get(path, WEIGHTS_MEDIA_TYPE, this.weightsTimeoutMs);
    await this.expectOk(response, `GET ${path}`);
    return Buffer.from(await response.arrayBuffer());
  }

  private async get(path: string, accept: string, timeoutMs: number): Promise<Response> {
    const token = this.token?.();
    try {
      return await this.fetchFn(`${this.baseUrl}${path}`, {
        // A token must not follow a redirect to another host.
        ...(token
          ? { headers: { accept, authorization: `Bearer ${token}` }, redirect: 'error' }
          : { headers: { accept } }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new AggregatorError(`GET ${this.baseUrl}${path} failed: ${reason}`, { cause: error });
    }
  }

  private async expectOk(response: Response, what: string): Promise<void> {
    if (response.ok) return;
    const text = await response.text().catch(() => '');
    throw new AggregatorError(
      `${what} answered ${response.status}${text ? `: ${text.slice(0, 300)}` : ''}`,
    );
  }
}
