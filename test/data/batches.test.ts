import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamBatches, type Batch, type BatchStreamOptions } from '../../shared/data/batches.ts';
import { loadDataset, type XrayRecord } from '../../shared/data/dataset.ts';
import { ImageCache } from '../../shared/data/image-cache.ts';
import { ImageDecodeError, decodeXray } from '../../shared/data/image.ts';
import { SAMPLE_DATA_DIR } from '../../shared/data/sample.ts';

const SIZE = 32;
let records: XrayRecord[];
let dir: string;

beforeAll(async () => {
  records = await loadDataset(SAMPLE_DATA_DIR);
  dir = await mkdtemp(path.join(tmpdir(), 'fedxray-batches-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(recs: XrayRecord[], opts: BatchStreamOptions): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const batch of streamBatches(recs, opts)) out.push(batch);
  return out;
}

const base: BatchStreamOptions = { batchSize: 16, size: SIZE, shuffle: true, seed: 1 };

describe('streamBatches', () => {
  it('yields every record exactly once, full batches then the partial last one', async () => {
    const batches = await collect(records, base);
    expect(batches.map((b) => b.count)).toEqual([16, 16, 16, 16, 16, 16, 16, 8]);
    const seen = batches.flatMap((b) => b.indices);
    expect(seen).toHaveLength(records.length);
    expect(new Set(seen).size).toBe(records.length);
    for (const b of batches) {
      expect(b.xs).toHaveLength(b.count * SIZE * SIZE);
      expect(b.labels).toBeInstanceOf(Int32Array);
      expect(b.labels).toHaveLength(b.count);
      expect(b.paths).toHaveLength(b.count);
      b.indices.forEach((i, k) => {
        expect(b.labels[k]).toBe(records[i].label);
        expect(b.paths[k]).toBe(records[i].path);
      });
    }
  });

  it('puts each decoded image at its slot (no augmentation)', async () => {
    const [first] = await collect(records, { ...base, batchSize: 5 });
    for (let k = 0; k < first.count; k++) {
      const expected = await decodeXray(first.paths[k], { size: SIZE });
      expect(first.xs.subarray(k * SIZE * SIZE, (k + 1) * SIZE * SIZE)).toEqual(expected);
    }
  });

  it('keeps input order without shuffle; shuffled order is fixed by the seed', async () => {
    const cache = new ImageCache({ maxBytes: 64 << 20 });
    const order = async (opts: BatchStreamOptions): Promise<number[]> =>
      (await collect(records, { ...opts, cache })).flatMap((b) => b.indices);
    expect(await order({ ...base, shuffle: false })).toEqual(records.map((_, i) => i));
    const a = await order(base);
    expect(await order(base)).toEqual(a);
    expect(await order({ ...base, seed: 2 })).not.toEqual(a);
    expect(a).not.toEqual(records.map((_, i) => i));
  });

  it('augments deterministically for a seed whatever the decode timing', async () => {
    const opts: BatchStreamOptions = { ...base, augment: {}, concurrency: 3, prefetch: 3 };
    const a = await collect(records, opts);
    const b = await collect(records, { ...opts, concurrency: 1, prefetch: 0 });
    expect(b.map((x) => x.xs)).toEqual(a.map((x) => x.xs));
    const plain = await collect(records, base);
    expect(plain[0].xs).not.toEqual(a[0].xs);
    expect(a.every((x) => x.xs.every(Number.isFinite))).toBe(true);
  });

  it('follows an explicit order (e.g. oversampling), repeats included', async () => {
    const order = [3, 3, 0, 119, 5];
    const batches = await collect(records, { ...base, shuffle: false, batchSize: 2, order });
    expect(batches.flatMap((b) => b.indices)).toEqual(order);
    expect(batches.map((b) => b.count)).toEqual([2, 2, 1]);
    await expect(collect(records, { ...base, order: [120] })).rejects.toThrow(RangeError);
  });

  it('uses the cache: the second epoch decodes nothing', async () => {
    const cache = new ImageCache({ maxBytes: 64 << 20 });
    await collect(records, { ...base, cache });
    expect(cache.size).toBe(records.length);
    expect(cache.stats.hits).toBe(0);
    const again = await collect(records, { ...base, seed: 9, cache });
    expect(cache.stats.hits).toBe(records.length);
    expect(again.reduce((n, b) => n + b.count, 0)).toBe(records.length);
  });

  it('decodes only prefetch batches ahead of a slow consumer', async () => {
    const cache = new ImageCache({ maxBytes: 64 << 20 });
    const prefetch = 2;
    const it = streamBatches(records, { ...base, batchSize: 8, prefetch, cache });
    await it.next();
    await new Promise((r) => setTimeout(r, 300));
    expect(cache.size).toBeLessThanOrEqual((prefetch + 1) * 8);
    expect(cache.size).toBeGreaterThan(8);
    await it.return();
  });

  it('fails with the decode error of a bad file, and validates options', async () => {
    const bad = path.join(dir, 'bad.jpg');
    await writeFile(bad, Buffer.from('definitely not a jpeg'));
    const recs: XrayRecord[] = [...records.slice(0, 20), { path: bad, label: 0, patientId: 'bad' }];
    await expect(collect(recs, { ...base, shuffle: false, batchSize: 4 })).rejects.toBeInstanceOf(
      ImageDecodeError,
    );
    await expect(collect(records, { ...base, batchSize: 0 })).rejects.toThrow(RangeError);
    expect(await collect([], base)).toEqual([]);
  });
});
