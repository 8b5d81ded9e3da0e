import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken } from '../../../shared/service/auth.ts';
import { HttpError } from '../../../shared/service/errors.ts';
import { RateLimiter } from './rate-limit.ts';

/** The header that carries an API key (`Authorization: Bearer <key>` works too). */
export const API_KEY_HEADER = 'x-api-key';

/** OpenAPI security schemes for the API key (both ways of sending it). */
export const API_KEY_SECURITY_SCHEMES = {
  apiKey: {
    type: 'apiKey',
    in: 'header',
    name: API_KEY_HEADER,
    description: 'One of the keys in API_KEYS (required only when API_KEYS is set)',
  },
  apiKeyBearer: {
    type: 'http',
    scheme: 'bearer',
    description: 'The same API key as `Authorization: Bearer <key>`',
  },
} as const;

export interface DiagnoseAccessOptions {
  /** Accepted keys; empty or absent = no key needed (local mode). */
  apiKeys?: readonly string[];
  /** Requests a minute per key (per client IP without keys); 0 = no limit. */
  rateLimitPerMinute: number;
  /** Milliseconds clock for the rate limiter (tests). */
  now?: () => number;
  /** Realm named in WWW-Authenticate. */
  realm?: string;
}

/**
 * Who may call POST /diagnose and how often: checks the API key (constant time, against
 * every key) and takes a token from the caller's bucket. Keys are never stored in buckets,
 * logs or messages: a caller is `key:<index>` or `ip:<address>`.
 */
export class DiagnoseAccess {
  readonly keysRequired: boolean;
  readonly limiter: RateLimiter | undefined;
  private readonly keyHashes: Buffer[];
  private readonly realm: string;

  constructor(options: DiagnoseAccessOptions) {
    this.keyHashes = [...new Set(options.apiKeys ?? [])].map(sha256);
    this.keysRequired = this.keyHashes.length > 0;
    this.limiter =
      options.rateLimitPerMinute > 0
        ? new RateLimiter({ perMinute: options.rateLimitPerMinute, now: options.now })
        : undefined;
    this.realm = options.realm ?? 'fedxray';
  }

  /** The caller's identity for rate limiting; throws 401 for a missing or unknown key. */
  authenticate(request: FastifyRequest): string {
    if (!this.keysRequired) return `ip:${request.ip}`;
    const presented = presentedKey(request);
    if (presented === undefined) {
      throw new HttpError(
        401,
        'missing-api-key',
        `an API key is required: send it as '${API_KEY_HEADER}: <key>' or 'Authorization: Bearer <key>'`,
      );
    }
    const index = this.match(presented);
    if (index < 0) throw new HttpError(401, 'invalid-api-key', 'the API key is not valid');
    return `key:${index}`;
  }

  /** Index of the matching key or -1; compares with every key, in constant time each. */
  private match(presented: string): number {
    const hash = sha256(presented);
    let index = -1;
    this.keyHashes.forEach((keyHash, i) => {
      if (timingSafeEqual(keyHash, hash) && index < 0) index = i;
    });
    return index;
  }

  /** The onRequest hook of POST /diagnose: runs before any of the upload is read. */
  readonly onRequest = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    let client: string;
    try {
      client = this.authenticate(request);
    } catch (error) {
      reply.header('www-authenticate', `Bearer realm="${this.realm}"`);
      throw error;
    }
    if (!this.limiter) return;
    const taken = this.limiter.take(client);
    reply.header('x-ratelimit-limit', String(this.limiter.perMinute));
    reply.header('x-ratelimit-remaining', String(taken.remaining));
    if (!taken.allowed) {
      reply.header('retry-after', String(taken.retryAfterSeconds));
      throw new HttpError(
        429,
        'rate-limited',
        `more than ${this.limiter.perMinute} requests a minute; retry in ${taken.retryAfterSeconds} s`,
        { limitPerMinute: this.limiter.perMinute, retryAfterSeconds: taken.retryAfterSeconds },
      );
    }
  };
}

/** The key from `x-api-key` or else from `Authorization: Bearer`; undefined when neither. */
function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers[API_KEY_HEADER];
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (value) return value;
  return bearerToken(request);
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
