/**
 * The transport of the typed service clients (shared/client): base URL, bearer token or API
 * key, a timeout per request, and errors as ApiError carrying the services' JSON error body.
 * Routes are declared with the very TypeBox schemas the services' routes use (see route()),
 * so a client's types follow the contracts and a test can check them against /docs/json.
 */
import type { Static, TSchema } from '@sinclair/typebox';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One route as a client calls it: its OpenAPI path and the schemas of its body and answer. */
export interface Route<B extends TSchema | undefined, R extends TSchema | undefined> {
  method: HttpMethod;
  /** The OpenAPI path, e.g. /rounds/{id}. */
  path: string;
  /** The success status whose answer `response` describes. */
  status: number;
  body: B;
  response: R;
}

export function route<
  B extends TSchema | undefined = undefined,
  R extends TSchema | undefined = undefined,
>(
  method: HttpMethod,
  path: string,
  schemas: { status?: number; body?: B; response?: R } = {},
): Route<B, R> {
  return {
    method,
    path,
    status: schemas.status ?? 200,
    body: schemas.body as B,
    response: schemas.response as R,
  };
}

type Answer<R> = R extends TSchema ? Static<R> : undefined;

/** The JSON error body every fedxray service answers (shared/service/errors.ts). */
export interface ErrorBody {
  error: { code: string; message: string; requestId?: string; details?: Record<string, unknown> };
}

/**
 * An answer other than the route's success, or none at all. `status` 0 when no answer came
 * (code `network-error` or `timeout`); `code` and `message` are the service's when it sent its
 * JSON error body, else `http-error` and the start of the text.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId?: string;
  readonly details?: Record<string, unknown>;
  readonly body?: ErrorBody;

  constructor(
    status: number,
    code: string,
    message: string,
    extra: { body?: ErrorBody; route?: string } = {},
  ) {
    super(
      `${extra.route ? `${extra.route}: ` : ''}${status ? `HTTP ${status} ` : ''}${code}: ${message}`,
    );
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.body = extra.body;
    this.requestId = extra.body?.error.requestId;
    this.details = extra.body?.error.details;
  }
}

export interface ClientOptions {
  /** The service's base URL, e.g. http://127.0.0.1:3000. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** ms a request may take until its answer's body is read (default 30 s; 0 = none). */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /**
   * Retries of an answer 429 or 503 (the service refused the request before doing anything,
   * so any method may be sent again): none unless given.
   */
  retry?: RetryOptions;
}

export interface RetryOptions {
  /** Tries in all, the first included (default 5). */
  attempts?: number;
  /** ms of the first backoff, doubled each retry, at most 30 s; a longer retry-after wins (default 500). */
  backoffMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

const RETRIED_STATUSES = new Set([429, 503]);
const MAX_BACKOFF_MS = 30_000;
const sleepFor = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

export interface CallInput {
  params?: Record<string, string>;
  query?: Record<string, string | number | boolean | undefined>;
  /** JSON (serialised) or a FormData (multipart). */
  body?: unknown;
  headers?: Record<string, string>;
  /** An extra signal that ends the request (e.g. a watch given up). */
  signal?: AbortSignal;
  /** Overrides the client's timeout (0 = none: event streams). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export class HttpClient {
  readonly baseUrl: string;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetch = options.fetch ?? fetch;
  }

  /** Calls `r` and answers its body, typed by its response schema. */
  async call<B extends TSchema | undefined, R extends TSchema | undefined>(
    r: Route<B, R>,
    input: CallInput & (B extends TSchema ? { body: Static<B> | FormData } : object) = {} as never,
  ): Promise<Answer<R>> {
    const response = await this.send(r, input);
    const text = await response.text();
    if (!response.ok) {
      throw errorOf(response.status, text, `${r.method} ${r.path}`);
    }
    return (text ? JSON.parse(text) : undefined) as Answer<R>;
  }

  /** The raw answer of `r` once it is a success (event streams, binary bodies). */
  async open(
    r: Route<TSchema | undefined, TSchema | undefined>,
    input: CallInput = {},
  ): Promise<Response> {
    const response = await this.send(r, input);
    if (!response.ok) {
      throw errorOf(response.status, await response.text(), `${r.method} ${r.path}`);
    }
    return response;
  }

  /** One request, sent again while the answer is 429/503 and tries are left. */
  private async send(
    r: Route<TSchema | undefined, TSchema | undefined>,
    input: CallInput,
  ): Promise<Response> {
    const retry = this.options.retry;
    const attempts = retry ? (retry.attempts ?? 5) : 1;
    for (let attempt = 1; ; attempt++) {
      const response = await this.sendOnce(r, input);
      if (!RETRIED_STATUSES.has(response.status) || attempt >= attempts) return response;
      await response.body?.cancel();
      const backoff = Math.min(MAX_BACKOFF_MS, (retry?.backoffMs ?? 500) * 2 ** (attempt - 1));
      const retryAfter = Number(response.headers.get('retry-after') ?? NaN) * 1000;
      await (retry?.sleep ?? sleepFor)(
        Number.isFinite(retryAfter) ? Math.max(backoff, retryAfter) : backoff,
      );
    }
  }

  private async sendOnce(
    r: Route<TSchema | undefined, TSchema | undefined>,
    input: CallInput,
  ): Promise<Response> {
    const path = r.path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = input.params?.[name];
      if (value === undefined) throw new TypeError(`${r.path}: no value for {${name}}`);
      return encodeURIComponent(value);
    });
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries(input.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { accept: 'application/json', ...input.headers };
    if (this.options.token !== undefined) headers.authorization = `Bearer ${this.options.token}`;
    let body: FormData | string | undefined;
    if (input.body instanceof FormData) body = input.body;
    else if (input.body !== undefined) {
      body = JSON.stringify(input.body);
      headers['content-type'] = 'application/json';
    }
    const timeoutMs = input.timeoutMs ?? this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const signals = [
      ...(timeoutMs > 0 ? [AbortSignal.timeout(timeoutMs)] : []),
      ...(input.signal ? [input.signal] : []),
    ];
    try {
      return await this.fetch(url, {
        method: r.method,
        headers,
        body,
        signal: signals.length > 0 ? AbortSignal.any(signals) : undefined,
      });
    } catch (error) {
      const err = error as Error & { cause?: Error };
      if (err.name === 'TimeoutError') {
        throw new ApiError(0, 'timeout', `no answer within ${timeoutMs} ms`, {
          route: `${r.method} ${r.path}`,
        });
      }
      if (err.name === 'AbortError') throw error;
      throw new ApiError(0, 'network-error', err.cause?.message ?? err.message, {
        route: `${r.method} ${r.path}`,
      });
    }
  }
}

/** The ApiError of a failed answer: the service's JSON error body when it sent one. */
export function errorOf(status: number, text: string, route?: string): ApiError {
  try {
    const body = JSON.parse(text) as Partial<ErrorBody>;
    if (typeof body.error?.code === 'string' && typeof body.error.message === 'string') {
      return new ApiError(status, body.error.code, body.error.message, {
        body: body as ErrorBody,
        route,
      });
    }
  } catch {
    // not JSON: the text itself, below
  }
  return new ApiError(status, 'http-error', text.slice(0, 200) || `status ${status}`, { route });
}
