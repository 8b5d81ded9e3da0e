import { Value } from '@sinclair/typebox/value';
import pRetry, { AbortError } from 'p-retry';
import {
  NodeWorkSchema,
  type NodeWork,
  type NodeWorkAnswer,
} from '../../../shared/protocol/node-work.ts';
import type { UpdateMeta } from '../../../shared/protocol/update-meta.ts';
import {
  decodeWeights,
  encodeWeights,
  packWeights,
  unpackWeights,
  WEIGHTS_MEDIA_TYPE,
  type NamedWeights,
} from '../../../shared/weights/index.ts';
import { PublicError } from './errors.ts';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.ts';

export interface AggregatorClientOptions {
  baseUrl: string;
  /** The hospital's token, or where to read the one in force (HOSPITAL_TOKEN_FILE rotates). */
  token: string | (() => string);
  fetch?: typeof fetch;
  /** Retries of network failures, 5xx and 409 upload-in-progress (default DEFAULT_RETRY_POLICY). */
  retry?: RetryPolicy;
  /** Per try, including reading the body. */
  timeoutMs?: number;
}

export type { UpdateMeta } from '../../../shared/protocol/update-meta.ts';

export class AggregatorError extends PublicError {}

const DEFAULT_TIMEOUT_MS = 5 * 60_000;

/**
 * The node's only outbound connection: downloads global weights and pushes updates, with the
 * hospital's token, retrying network failures, 5xx answers and 409 upload-in-progress. Error
 * messages name the URL and never the token.
 */
export class AggregatorClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly retry: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly token: () => string;

  constructor(private readonly options: AggregatorClientOptions) {
    const token = options.token;
    this.token = typeof token === 'string' ? () => token : token;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? fetch;
    this.retry = options.retry ?? DEFAULT_RETRY_POLICY;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Downloads a model's packed weights and checks them against the sha256 we were told. */
  async downloadWeights(
    modelId: string,
    expectedSha256: string,
    signal: AbortSignal,
  ): Promise<NamedWeights[]> {
    const url = `${this.baseUrl}/models/${encodeURIComponent(modelId)}/weights`;
    const packed = await this.request(
      'GET',
      url,
      () => ({}),
      async (res) => Buffer.from(await res.arrayBuffer()),
      signal,
    );
    const { manifest, blob } = unpackWeights(packed);
    if (manifest.sha256 !== expectedSha256.toLowerCase()) {
      throw new PublicError(
        'weights-mismatch',
        `the weights of model ${modelId} from ${url} have sha256 ${manifest.sha256}, but ${expectedSha256} was expected`,
      );
    }
    return decodeWeights(manifest, blob);
  }

  /** Pushes one update (multipart: `meta` JSON, then the `weights` file, float32). */
  async uploadUpdate(
    runId: string,
    meta: UpdateMeta,
    weights: readonly NamedWeights[],
    signal: AbortSignal,
  ): Promise<{ sha256: string; bytes: number }> {
    const url = `${this.baseUrl}/rounds/${encodeURIComponent(runId)}/updates`;
    const { manifest, blob } = encodeWeights(weights, { dtype: 'float32' });
    const packed = packWeights(manifest, blob);
    await this.request(
      'POST',
      url,
      () => {
        const form = new FormData();
        form.append('meta', JSON.stringify(meta));
        form.append('weights', new Blob([packed], { type: WEIGHTS_MEDIA_TYPE }), 'weights.fxw');
        return { body: form };
      },
      async (res) => {
        await res.arrayBuffer();
      },
      signal,
    );
    return { sha256: manifest.sha256, bytes: packed.length };
  }

  /**
   * One long poll of an outbound-only node (GET /nodes/work): the aggregator's next request
   * for this hospital, or null when none came within waitSeconds. Not retried: the poll loop
   * (work-poller.ts) polls again.
   */
  async nextWork(waitSeconds: number, signal: AbortSignal): Promise<NodeWork | null> {
    const url = `${this.baseUrl}/nodes/work?waitSeconds=${waitSeconds}`;
    const res = await this.fetchImpl(url, {
      headers: { authorization: `Bearer ${this.token()}` },
      redirect: 'error',
      signal: AbortSignal.any([signal, AbortSignal.timeout((waitSeconds + 30) * 1000)]),
    });
    if (res.status === 204) return null;
    if (!res.ok) {
      const { reason } = await errorOf(res);
      throw new AggregatorError(
        'aggregator-rejected',
        `GET ${url} answered ${res.status}: ${reason}`,
      );
    }
    const body: unknown = await res.json();
    if (!Value.Check(NodeWorkSchema, body)) {
      throw new AggregatorError('aggregator-rejected', `GET ${url} answered an unexpected body`);
    }
    return body;
  }

  /** The answer to a request taken with nextWork (POST /nodes/work/{id}). */
  async answerWork(id: string, answer: NodeWorkAnswer, signal: AbortSignal): Promise<void> {
    const url = `${this.baseUrl}/nodes/work/${encodeURIComponent(id)}`;
    await this.request(
      'POST',
      url,
      () => ({
        body: JSON.stringify(answer),
      }),
      async (res) => {
        await res.arrayBuffer();
      },
      signal,
      { 'content-type': 'application/json' },
    );
  }

  private async request<T>(
    method: string,
    url: string,
    init: () => RequestInit,
    read: (res: Response) => Promise<T>,
    signal: AbortSignal,
    headers: Record<string, string> = {},
  ): Promise<T> {
    let tries = 0;
    const attempt = async (): Promise<T> => {
      tries++;
      let res: Response;
      try {
        res = await this.fetchImpl(url, {
          ...init(),
          method,
          headers: { ...headers, authorization: `Bearer ${this.token()}` },
          // The token must not follow a redirect to another host.
          redirect: 'error',
          signal: AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]),
        });
        if (res.ok) return await read(res);
      } catch (error) {
        if (signal.aborted) throw new AbortError(signal.reason as Error);
        if (error instanceof AggregatorError) throw new AbortError(error);
        throw new TransientFailure(describeNetworkError(error, this.timeoutMs));
      }
      const { code, reason } = await errorOf(res);
      // The aggregator takes one upload per hospital at a time: a previous job's upload still
      // being read is worth waiting for, like a 5xx.
      if (res.status < 500 && !(res.status === 409 && code === 'upload-in-progress')) {
        throw new AbortError(
          new AggregatorError(
            'aggregator-rejected',
            `the aggregator answered ${method} ${url} with ${res.status}: ${reason}`,
          ),
        );
      }
      throw new TransientFailure(`${res.status}: ${reason}`);
    };
    try {
      return await pRetry(attempt, {
        retries: this.retry.retries,
        minTimeout: this.retry.minTimeoutMs,
        factor: this.retry.factor ?? 2,
        maxTimeout: this.retry.maxTimeoutMs ?? Number.POSITIVE_INFINITY,
        randomize: false,
        signal,
      });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (!(error instanceof TransientFailure)) throw error;
      throw new AggregatorError(
        'aggregator-unavailable',
        `the aggregator at ${this.baseUrl} is unavailable: ${method} ${url} failed ${tries} times (last: ${error.message})`,
      );
    }
  }
}

/** A failure worth another try: the network, a timeout, a 5xx or 409 upload-in-progress. */
class TransientFailure extends Error {}

async function errorOf(res: Response): Promise<{ code?: string; reason: string }> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const code = typeof body.error?.code === 'string' ? body.error.code : undefined;
    if (typeof body.error?.message === 'string')
      return { code, reason: body.error.message.slice(0, 300) };
  } catch {
    // not JSON: fall through
  }
  return { reason: text.slice(0, 300) || res.statusText };
}

function describeNetworkError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') {
    return `no answer within ${Math.round(timeoutMs / 1000)} s`;
  }
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}
