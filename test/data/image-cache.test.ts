import { describe, expect, it } from 'vitest';
import { DEFAULT_CACHE_BYTES, ImageCache } from '../../shared/data/image-cache.ts';

const image = (values: number, fill = 0): Float32Array => new Float32Array(values).fill(fill);

describe('ImageCache', () => {
  it('defaults to 512 MB', () => {
    expect(new ImageCache().maxBytes).toBe(DEFAULT_CACHE_BYTES);
    expect(DEFAULT_CACHE_BYTES).toBe(512 * 1024 * 1024);
  });

  it('never holds more bytes than its budget and evicts the least recently used', () => {
    const cache = new ImageCache({ maxBytes: 3 * 1024 });
    for (let i = 0; i < 10; i++) {
      expect(cache.set(`k${i}`, image(256, i))).toBe(true);
      expect(cache.bytes).toBeLessThanOrEqual(cache.maxBytes);
      if (i === 5) cache.get('k3');
    }
    expect(cache.size).toBe(3);
    expect(cache.bytes).toBe(3 * 1024);
    expect(cache.has('k9') && cache.has('k8') && cache.has('k7')).toBe(true);
    expect(cache.stats.evictions).toBe(7);

    const lru = new ImageCache({ maxBytes: 3 * 1024 });
    ['a', 'b', 'c'].forEach((k) => lru.set(k, image(256)));
    lru.get('a');
    lru.set('d', image(256));
    expect(lru.has('a')).toBe(true);
    expect(lru.has('b')).toBe(false);
  });

  it('refuses an image bigger than the whole budget and replaces keys without leaking bytes', () => {
    const cache = new ImageCache({ maxBytes: 1000 });
    expect(cache.set('big', image(300))).toBe(false);
    expect(cache.bytes).toBe(0);
    cache.set('x', image(100));
    cache.set('x', image(200));
    expect(cache.bytes).toBe(800);
    expect(cache.size).toBe(1);
    cache.clear();
    expect(cache.bytes).toBe(0);
  });

  it('keys differ by path, size, normalisation and equalisation', () => {
    const keys = new Set([
      ImageCache.key('/a.jpg', 64, 'per-image'),
      ImageCache.key('/a.jpg', 128, 'per-image'),
      ImageCache.key('/a.jpg', 64, 'unit'),
      ImageCache.key('/a.jpg', 64, 'per-image', true),
      ImageCache.key('/b.jpg', 64, 'per-image'),
    ]);
    expect(keys.size).toBe(5);
  });

  it('getOrLoad loads once for concurrent callers, counts hits, and does not cache failures', async () => {
    const cache = new ImageCache({ maxBytes: 1 << 20 });
    let loads = 0;
    const load = async (): Promise<Float32Array> => {
      loads++;
      await new Promise((r) => setTimeout(r, 5));
      return image(16, 1);
    };
    const [a, b] = await Promise.all([cache.getOrLoad('k', load), cache.getOrLoad('k', load)]);
    expect(a).toBe(b);
    expect(loads).toBe(1);
    await cache.getOrLoad('k', load);
    expect(loads).toBe(1);
    expect(cache.stats.hits).toBe(1);

    await expect(cache.getOrLoad('bad', () => Promise.reject(new Error('boom')))).rejects.toThrow(
      'boom',
    );
    expect(cache.has('bad')).toBe(false);
    expect(await cache.getOrLoad('bad', load)).toHaveLength(16);
  });
});
