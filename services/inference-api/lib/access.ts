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

/** A key list that may change while the service runs (API_KEYS_FILE: lib/api-key-file.ts). */
export interface LiveKeys {
  current(): readonly string[];
}

export interface DiagnoseAccessOptions {
  /** Accepted keys; empty or absent = no key needed (local mode). */
  apiKeys?: readonly string[];
  /** Accepted keys read live, instead of apiKeys: keys are then always required. */
  liveKeys?: LiveKeys;
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
 * logs or messages: a caller is `key:<first 12 hex digits of the key's sha256>` (the same
 * bucket after a key file reload) or `ip:<address>`.
 */
export class DiagnoseAccess {
  readonly keysRequired: boolean;
  readonly limiter: RateLimiter | undefined;
  private readonly liveKeys: LiveKeys | undefined;
  private keys: readonly string[];
  private keyHashes: Buffer[];
  private readonly realm: string;

  constructor(options: DiagnoseAccessOptions) {
    this.liveKeys = options.liveKeys;
    this.keys = this.liveKeys?.current() ?? options.apiKeys ?? [];
    this.keyHashes = hashKeys(this.keys);
    this.keysRequired = this.liveKeys !== undefined || this.keyHashes.length > 0;
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
    const hash = this.match(presented);
    if (!hash) throw new HttpError(401, 'invalid-api-key', 'the API key is not valid');
    return `key:${hash.toString('hex').slice(0, 12)}`;
  }

  /** The matching key's hash or undefined; compares with every key, in constant time each. */
  private match(presented: string): Buffer | undefined {
    const keys = this.liveKeys?.current() ?? this.keys;
    if (keys !== this.keys) {
      this.keys = keys;
      this.keyHashes = hashKeys(keys);
    }
    const hash = sha256(presented);
    let found: Buffer | undefined;
    for (const keyHash of this.keyHashes) {
      if (timingSafeEqual(keyHash, hash) && !found) found = keyHash;
    }
    return found;
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

function hashKeys(keys: readonly string[]): Buffer[] {
  return [...new Set(keys)].map(sha256);
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
