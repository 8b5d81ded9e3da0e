// The scanner behind the "aggregator stores no raw data" check of test/e2e finds what it must.
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset, SAMPLE_DATA_DIR, type XrayRecord } from '../../shared/data/index.ts';
import { findRawData, findRawDataInText } from '../helpers/privacy-scan.ts';

let dir: string;
let sample: XrayRecord[];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fedxray-scan-'));
  sample = await loadDataset(SAMPLE_DATA_DIR);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('raw-data scan', () => {
  it('finds an image, a file name and a patient id, and nothing in clean files', async () => {
    const withName = sample.find((r) => /[a-z]/i.test(r.patientId) && r.patientId.length >= 6);
    expect(withName).toBeDefined();
    await writeFile(path.join(dir, 'clean.bin'), Buffer.alloc(4096, 7));
    expect(await findRawData(dir, sample)).toEqual([]);

    await copyFile(sample[0].path, path.join(dir, 'copy.bin'));
    await writeFile(path.join(dir, 'log.txt'), `trained on ${path.basename(sample[1].path)}`);
    await writeFile(path.join(dir, 'ids.json'), JSON.stringify({ p: withName?.patientId }));
    const found = await findRawData(dir, sample);
    expect(found.some((f) => f.endsWith('copy.bin: an image'))).toBe(true);
    expect(found.some((f) => f.includes('log.txt: contains'))).toBe(true);
    expect(found.some((f) => f.includes('ids.json: contains'))).toBe(true);
    expect(findRawDataInText(`{"x":"${path.basename(sample[2].path)}"}`, sample)).toHaveLength(1);
  });
});
