/**
 * A small in-memory token bucket per client: `perMinute` tokens at most (the burst), refilled
 * continuously at perMinute / 60 tokens a second; each request takes one. One process only
 * (several replicas each keep their own buckets).
 */

export interface RateLimitOptions {
  /** Requests a minute per client; also the burst size. Must be > 0. */
  perMinute: number;
  /** Milliseconds clock (tests pass a fake one). Default performance.now. */
  now?: () => number;
  /**
   * Most buckets kept (distinct clients seen recently); past it the least recently used is
   * dropped (its client starts again with a full bucket). Bounds memory under many clients.
   */
  maxBuckets?: number;
}

export type TakeResult =
  | { allowed: true; remaining: number }
  | { allowed: false; remaining: 0; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export const DEFAULT_MAX_BUCKETS = 10_000;

export class RateLimiter {
  readonly perMinute: number;
  private readonly perMs: number;
  private readonly now: () => number;
  private readonly maxBuckets: number;
  /** In least- to most-recently-used order (re-inserted on every take). */
  private readonly buckets = new Map<string, Bucket>();

  constructor(options: RateLimitOptions) {
    if (!(options.perMinute > 0)) {
      throw new RangeError(`perMinute must be > 0, got ${options.perMinute}`);
    }
    this.perMinute = options.perMinute;
    this.perMs = options.perMinute / 60_000;
    this.now = options.now ?? (() => performance.now());
    this.maxBuckets = options.maxBuckets ?? DEFAULT_MAX_BUCKETS;
  }

  /** Takes one token from the client's bucket, or says how long until one is there. */
  take(client: string): TakeResult {
    const now = this.now();
    const bucket = this.buckets.get(client);
    const tokens = bucket ? this.refilled(bucket, now) : this.perMinute;
    if (bucket) this.buckets.delete(client);
    if (tokens >= 1) {
      this.buckets.set(client, { tokens: tokens - 1, updatedAt: now });
      this.evict();
      return { allowed: true, remaining: Math.floor(tokens - 1) };
    }
    this.buckets.set(client, { tokens, updatedAt: now });
    this.evict();
    const retryAfterSeconds = Math.max(1, Math.ceil((1 - tokens) / this.perMs / 1000));
    return { allowed: false, remaining: 0, retryAfterSeconds };
  }

  /** Clients with a bucket (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private refilled(bucket: Bucket, now: number): number {
    const elapsed = Math.max(0, now - bucket.updatedAt);
    return Math.min(this.perMinute, bucket.tokens + elapsed * this.perMs);
  }

  /** Drops the least recently used buckets past maxBuckets (O(1) per request). */
  private evict(): void {
    for (const client of this.buckets.keys()) {
      if (this.buckets.size <= this.maxBuckets) break;
      this.buckets.delete(client);
    }
  }
}
