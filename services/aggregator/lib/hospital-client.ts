import type { TSchema, Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { OUTBOUND_BASE_URL } from '../../../shared/protocol/node-work.ts';
import { SIGNATURE_HEADER, signRequest } from '../../../shared/service/signing.ts';
import {
  EvaluationSchema,
  NodeInfoSchema,
  NodeJobSchema,
  TrainAcceptedSchema,
  type Evaluation,
  type NodeInfo,
  type NodeJob,
  type NodeModelInput,
  type NodeTrainRequest,
} from '../schemas/hospital-node.ts';

/** The aggregator's view of a hospital node: where it is and the key its requests are signed with. */
export interface HospitalTarget {
  id: string;
  name: string;
  baseUrl: string;
  /** hashToken(hospital token): the HMAC key (shared/service/signing.ts). */
  tokenHash: string;
  /**
   * The hash of the token replaced by the last rotation and its expiry: while it lasts, a
   * signed request the node refuses (401: a node still on its old HOSPITAL_TOKEN) is sent once
   * more, signed with it.
   */
  previousTokenHash?: string | null;
  previousTokenExpiresAt?: Date | null;
}

export interface HospitalClientOptions {
  fetch?: typeof fetch;
  /** How requests reach outbound-only nodes (baseUrl `outbound:`, lib/node-tunnel.ts). */
  tunnel?: { fetchFor(hospitalId: string): typeof fetch };
  /** GET /health must answer within this (default 3 s). */
  healthTimeoutMs?: number;
  /** GET /info, POST /train, GET /train/:jobId and POST /train/:jobId/cancel (default 10 s). */
  requestTimeoutMs?: number;
  /** POST /evaluate (default 10 min: the node may finish a training first). */
  evaluateTimeoutMs?: number;
  /** Milliseconds clock for the previous token's expiry (tests); default Date.now. */
  now?: () => number;
}

/** A call to a hospital node that failed; the message names the node and says why. */
export class HospitalCallError extends Error {
  override name = 'HospitalCallError';

  constructor(
    message: string,
    /** The node's HTTP status, when it answered. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/**
 * Calls hospital nodes: health checks, and POST /train, POST /train/:jobId/cancel and
 * POST /evaluate signed with the hospital's token hash (x-fedxray-signature), so a node accepts work only from its
 * aggregator; during a rotation's grace, a signature the node refuses is tried again with the
 * previous token's hash. Redirects are refused; answers are checked against the protocol's schemas.
 */
export class HospitalClient {
  private readonly fetchImpl: typeof fetch;
  private readonly tunnel: HospitalClientOptions['tunnel'];
  private readonly healthTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly evaluateTimeoutMs: number;
  private readonly now: () => number;

  constructor(options: HospitalClientOptions = {}) {
    this.fetchImpl = options.fetch ?? fetch;
    this.tunnel = options.tunnel;
    this.now = options.now ?? Date.now;
    this.healthTimeoutMs = options.healthTimeoutMs ?? 3_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.evaluateTimeoutMs = options.evaluateTimeoutMs ?? 600_000;
  }

  /** null when the node answers GET /health with 200 in time, else why not. */
  async checkHealth(hospital: HospitalTarget, signal: AbortSignal): Promise<string | null> {
    try {
      await this.call(hospital, 'GET', '/health', undefined, this.healthTimeoutMs, signal);
      return null;
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      return (error as Error).message;
    }
  }

  /** GET /info (unsigned: counts only); resolves with what the aggregator reads of it. */
  async info(hospital: HospitalTarget, signal: AbortSignal): Promise<NodeInfo> {
    const answer = await this.call(
      hospital,
      'GET',
      '/info',
      undefined,
      this.requestTimeoutMs,
      signal,
    );
    return this.expect(hospital, 'GET /info', NodeInfoSchema, answer);
  }

  /** POST /train; resolves with the node's job id. */
  async train(
    hospital: HospitalTarget,
    body: NodeTrainRequest,
    signal: AbortSignal,
  ): Promise<string> {
    const answer = await this.call(hospital, 'POST', '/train', body, this.requestTimeoutMs, signal);
    return this.expect(hospital, 'POST /train', TrainAcceptedSchema, answer).jobId;
  }

  async job(hospital: HospitalTarget, jobId: string, signal: AbortSignal): Promise<NodeJob> {
    const path = `/train/${encodeURIComponent(jobId)}`;
    const answer = await this.call(hospital, 'GET', path, undefined, this.requestTimeoutMs, signal);
    return this.expect(hospital, `GET ${path}`, NodeJobSchema, answer);
  }

  /**
   * POST /train/:jobId/cancel: asks the node to stop a job of a cancelled run; resolves with
   * the job as the node answers it once stopped. Nodes before this route answer 404.
   */
  async cancelJob(hospital: HospitalTarget, jobId: string, signal: AbortSignal): Promise<NodeJob> {
    const path = `/train/${encodeURIComponent(jobId)}/cancel`;
    const answer = await this.call(hospital, 'POST', path, {}, this.requestTimeoutMs, signal);
    return this.expect(hospital, `POST ${path}`, NodeJobSchema, answer);
  }

  async evaluate(
    hospital: HospitalTarget,
    body: NodeModelInput,
    signal: AbortSignal,
  ): Promise<Evaluation> {
    const answer = await this.call(
      hospital,
      'POST',
      '/evaluate',
      body,
      this.evaluateTimeoutMs,
      signal,
    );
    return this.expect(hospital, 'POST /evaluate', EvaluationSchema, answer);
  }

  private async call(
    hospital: HospitalTarget,
    method: 'GET' | 'POST',
    route: string,
    body: unknown,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<unknown> {
    const url = new URL(`${hospital.baseUrl.replace(/\/+$/, '')}${route}`);
    const payload = method === 'POST' ? JSON.stringify(body) : undefined;
    const what = `${method} ${url.href}`;
    const via = this.fetchFor(hospital);
    let response = await this.send(
      via,
      url,
      method,
      payload,
      hospital.tokenHash,
      timeoutMs,
      signal,
    );
    const previous = this.previousKey(hospital);
    if (response.status === 401 && payload !== undefined && previous !== undefined) {
      // The node refused the signature: during a rotation's grace it may still run with its
      // previous token. Ask once more, signed with that one's hash.
      await response.body?.cancel();
      response = await this.send(via, url, method, payload, previous, timeoutMs, signal);
    }
    const text = await response.text().catch(() => '');
    if (!response.ok) {
      throw new HospitalCallError(
        `${what} answered ${response.status}: ${errorReason(text)}`,
        response.status,
      );
    }
    try {
      return text === '' ? null : (JSON.parse(text) as unknown);
    } catch {
      throw new HospitalCallError(`${what} did not answer JSON`);
    }
  }

  /** The previous token's hash while its grace lasts. */
  private previousKey(hospital: HospitalTarget): string | undefined {
    const { previousTokenHash, previousTokenExpiresAt } = hospital;
    if (!previousTokenHash || !previousTokenExpiresAt) return undefined;
    return previousTokenExpiresAt.getTime() > this.now() ? previousTokenHash : undefined;
  }

  /** Over HTTP, or through the tunnel for a node that dials out. */
  private fetchFor(hospital: HospitalTarget): typeof fetch {
    if (hospital.baseUrl !== OUTBOUND_BASE_URL) return this.fetchImpl;
    if (!this.tunnel) throw new HospitalCallError(`${hospital.name} is outbound-only: no tunnel`);
    return this.tunnel.fetchFor(hospital.id);
  }

  /** One request; a POST is signed with `key`. */
  private async send(
    fetchImpl: typeof fetch,
    url: URL,
    method: 'GET' | 'POST',
    payload: string | undefined,
    key: string,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers[SIGNATURE_HEADER] = signRequest(key, method, `${url.pathname}${url.search}`, payload);
    }
    try {
      return await fetchImpl(url, {
        method,
        headers,
        body: payload,
        redirect: 'error',
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw new HospitalCallError(
        `${method} ${url.href} failed: ${networkReason(error, timeoutMs)}`,
      );
    }
  }

  private expect<T extends TSchema>(
    hospital: HospitalTarget,
    what: string,
    schema: T,
    value: unknown,
  ): Static<T> {
    if (!Value.Check(schema, value)) {
      const first = [...Value.Errors(schema, value)][0];
      throw new HospitalCallError(
        `${what} of ${hospital.name} answered an unexpected body (${first ? `${first.path || '/'}: ${first.message}` : 'invalid'})`,
      );
    }
    return value;
  }
}

function errorReason(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } };
    if (typeof body.error?.message === 'string') return body.error.message.slice(0, 300);
  } catch {
    // not JSON
  }
  return text.slice(0, 300) || 'no reason given';
}

function networkReason(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') {
    return `no answer within ${Math.round(timeoutMs / 100) / 10} s`;
  }
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}
