/**
 * LRU cache of decoded, unaugmented images, bounded in bytes, so epochs after the first skip
 * JPEG decoding. Cached arrays are shared: callers must treat them as read-only.
 */
import type { Normalization } from './image.ts';

export const DEFAULT_CACHE_BYTES = 512 * 1024 * 1024;

export interface ImageCacheStats {
  hits: number;
  misses: number;
  evictions: number;
}

export class ImageCache {
  readonly maxBytes: number;
  private readonly entries = new Map<string, Float32Array>();
  private readonly pending = new Map<string, Promise<Float32Array>>();
  private usedBytes = 0;
  private readonly counters: ImageCacheStats = { hits: 0, misses: 0, evictions: 0 };

  constructor(opts: { maxBytes?: number } = {}) {
    const maxBytes = opts.maxBytes ?? DEFAULT_CACHE_BYTES;
    if (!(maxBytes >= 0)) throw new RangeError(`maxBytes must be >= 0, got ${maxBytes}`);
    this.maxBytes = maxBytes;
  }

  static key(path: string, size: number, normalization: Normalization, equalize = false): string {
    return `${size}|${normalization}|${equalize ? 'eq' : 'raw'}|${path}`;
  }

  /** Bytes held by cached pixel arrays (never above maxBytes). */
  get bytes(): number {
    return this.usedBytes;
  }

  get size(): number {
    return this.entries.size;
  }

  get stats(): Readonly<ImageCacheStats> {
    return { ...this.counters };
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Returns the cached image and marks it most recently used. */
  get(key: string): Float32Array | undefined {
    const value = this.entries.get(key);
    if (value === undefined) {
      this.counters.misses++;
      return undefined;
    }
    this.counters.hits++;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  /** Stores an image, evicting least recently used ones; false if it alone exceeds the budget. */
  set(key: string, value: Float32Array): boolean {
    this.delete(key);
    if (value.byteLength > this.maxBytes) return false;
    while (this.usedBytes + value.byteLength > this.maxBytes) {
      const oldest = this.entries.keys().next().value as string;
      this.delete(oldest);
      this.counters.evictions++;
    }
    this.entries.set(key, value);
    this.usedBytes += value.byteLength;
    return true;
  }

  delete(key: string): boolean {
    const value = this.entries.get(key);
    if (value === undefined) return false;
    this.entries.delete(key);
    this.usedBytes -= value.byteLength;
    return true;
  }

  clear(): void {
    this.entries.clear();
    this.usedBytes = 0;
  }

  /** Cached value, or load() once (concurrent callers for one key share the same load). */
  async getOrLoad(key: string, load: () => Promise<Float32Array>): Promise<Float32Array> {
    const cached = this.get(key);
    if (cached !== undefined) return cached;
    const inFlight = this.pending.get(key);
    if (inFlight) return inFlight;
    const promise = load().then(
      (value) => {
        this.pending.delete(key);
        this.set(key, value);
        return value;
      },
      (err: unknown) => {
        this.pending.delete(key);
        throw err;
      },
    );
    this.pending.set(key, promise);
    return promise;
  }
}
