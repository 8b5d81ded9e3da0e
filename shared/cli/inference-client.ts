/**
 * A client of a running inference API (services/inference-api): POST /diagnose, GET
 * /models/current and PUT /models/current/threshold, over Node's fetch. 429 and 503 answers
 * are retried with backoff, honouring retry-after.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const ModelRefSchema = Type.Object({ id: Type.String(), sha256: Type.String() });

const DiagnoseAnswerSchema = Type.Object({
  label: Type.String(),
  probability: Type.Number({ minimum: 0, maximum: 1 }),
  threshold: Type.Number(),
  model: ModelRefSchema,
});
export type DiagnoseAnswer = Static<typeof DiagnoseAnswerSchema>;

/** What accept reads of GET /models/current (thresholdSource: absent before issue 13). */
const CurrentModelSchema = Type.Object({
  id: Type.String(),
  sha256: Type.String(),
  threshold: Type.Number(),
  thresholdSource: Type.Optional(Type.Union([Type.Literal('model'), Type.Literal('site')])),
});
export type CurrentModel = Static<typeof CurrentModelSchema>;

export interface ThresholdChange {
  threshold: number;
  reason: string;
  basis: {
    n: number;
    target?: { metric: 'sensitivity' | 'specificity'; value: number };
    sensitivity?: number;
    specificity?: number;
  };
}

/** An answer other than the one expected; `status` 0 when no answer came. */
export class InferenceApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface InferenceClientOptions {
  /** Base URL, e.g. http://127.0.0.1:3200. */
  baseUrl: string;
  /** Sent as x-api-key to /diagnose. */
  apiKey?: string;
  /** Tries of one request answered 429/503 (default 5). */
  attempts?: number;
  /** ms of the first backoff, doubled each retry, at most 30 s (default 500). */
  backoffMs?: number;
  /** ms a request may take (default 60 s). */
  timeoutMs?: number;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

const RETRIED = new Set([429, 503]);
const MAX_BACKOFF_MS = 30_000;

export class InferenceClient {
  private readonly baseUrl: string;
  private readonly fetch: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: InferenceClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetch = options.fetch ?? fetch;
    this.sleep = options.sleep ?? ((ms) => new Promise((done) => setTimeout(done, ms)));
  }

  /** Diagnoses one image (its bytes are sent, nothing else is kept). */
  async diagnose(image: Uint8Array, filename: string): Promise<DiagnoseAnswer> {
    const type = filename.toLowerCase().endsWith('.png') ? 'image/png' : 'image/jpeg';
    const headers: Record<string, string> = {};
    if (this.options.apiKey !== undefined) headers['x-api-key'] = this.options.apiKey;
    const body = await this.request('/diagnose', () => {
      const form = new FormData();
      form.append('image', new Blob([image], { type }), filename);
      return { method: 'POST', headers, body: form };
    });
    return parse(DiagnoseAnswerSchema, body, 'POST /diagnose');
  }

  async currentModel(): Promise<CurrentModel> {
    const body = await this.request('/models/current', () => ({ method: 'GET' }));
    return parse(CurrentModelSchema, body, 'GET /models/current');
  }

  /** Sets the site's threshold for the loaded model; answers the new /models/current. */
  async setThreshold(adminToken: string, change: ThresholdChange): Promise<CurrentModel> {
    const body = await this.request('/models/current/threshold', () => ({
      method: 'PUT',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(change),
    }));
    return parse(CurrentModelSchema, body, 'PUT /models/current/threshold');
  }

  private async request(path: string, init: () => RequestInit): Promise<unknown> {
    const attempts = this.options.attempts ?? 5;
    const backoff = this.options.backoffMs ?? 500;
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await this.fetch(`${this.baseUrl}${path}`, {
          ...init(),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 60_000),
        });
      } catch (error) {
        const cause = (error as Error & { cause?: Error }).cause;
        throw new InferenceApiError(0, `${path}: ${cause?.message ?? (error as Error).message}`);
      }
      if (response.ok) return response.json();
      if (RETRIED.has(response.status) && attempt < attempts) {
        await response.body?.cancel();
        const retryAfter = Number(response.headers.get('retry-after'));
        const wait = Math.min(MAX_BACKOFF_MS, backoff * 2 ** (attempt - 1));
        await this.sleep(Number.isFinite(retryAfter) ? Math.max(wait, retryAfter * 1000) : wait);
        continue;
      }
      throw new InferenceApiError(response.status, `${path}: ${await errorMessage(response)}`);
    }
  }
}

/** `HTTP 401 invalid-admin-token: ...` from the service's JSON error body, when it has one. */
async function errorMessage(response: Response): Promise<string> {
  const text = await response.text();
  try {
    const { error } = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (error?.message) return `HTTP ${response.status} ${error.code ?? ''}: ${error.message}`;
  } catch {
    // not JSON: the text itself, below
  }
  return `HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
}

function parse<T extends ReturnType<typeof Type.Object>>(
  schema: T,
  body: unknown,
  what: string,
): Static<T> {
  if (Value.Check(schema, body)) return body;
  const [first] = Value.Errors(schema, body);
  throw new InferenceApiError(
    200,
    `${what} answered an unexpected body (${first ? `${first.path}: ${first.message}` : '?'}): is this a fedxray inference API?`,
  );
}
