import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv, parseCsvRecords } from '../../shared/data/csv.ts';
import {
  DatasetError,
  LABEL_NAMES,
  loadDataset,
  summarize,
  type XrayRecord,
} from '../../shared/data/dataset.ts';
import { patientIdFromFileName } from '../../shared/data/patient-id.ts';
import { SAMPLE_DATA_DIR, SAMPLE_PER_CLASS } from '../../shared/data/sample.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fedxray-dataset-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const relative = (root: string, records: XrayRecord[]): Array<[string, number, string]> =>
  records.map((r) => [path.relative(root, r.path), r.label, r.patientId]);

describe('patientIdFromFileName', () => {
  it.each([
    ['person1_bacteria_1.jpg', 'person1'],
    ['person1_virus_6.jpg', 'person1'],
    ['person258_bacteria_1207.jpeg', 'person258'],
    ['person1616_virus_2802_2.jpg', 'person1616'],
    ['IM-0115-0001.jpg', '0115'],
    ['IM-0422-0001-0002.png', '0422'],
    ['NORMAL2-IM-0381-0001.jpg', 'NORMAL2-0381'],
    ['NORMAL2-IM-0587-0001-0002.jpg', 'NORMAL2-0587'],
    ['/some/dir/PNEUMONIA/person3_virus_15.jpg', 'person3'],
    ['scan_2024_07.png', 'scan_2024_07'],
    ['x-ray.final.JPG', 'x-ray.final'],
  ])('%s -> %s', (name, id) => {
    expect(patientIdFromFileName(name)).toBe(id);
  });
});

describe('parseCsv', () => {
  it('handles quotes, doubled quotes, CRLF, BOM and blank lines', () => {
    const text = '\ufeffa,b\r\n"x, y","say ""hi"""\r\n\r\n1,\n';
    expect(parseCsv(text)).toEqual([
      ['a', 'b'],
      ['x, y', 'say "hi"'],
      ['1', ''],
    ]);
    expect(parseCsvRecords('p,l\nq,r')).toEqual([{ p: 'q', l: 'r' }]);
  });
});

describe('loadDataset', () => {
  it('loads the shipped sample from its manifest', async () => {
    const records = await loadDataset(SAMPLE_DATA_DIR);
    expect(records).toHaveLength(2 * SAMPLE_PER_CLASS);
    expect(summarize(records)).toEqual({
      images: 120,
      imagesPerClass: [60, 60],
      patients: 120,
      patientsPerClass: [60, 60],
    });
    for (const r of records) {
      expect(path.isAbsolute(r.path)).toBe(true);
      expect(existsSync(r.path)).toBe(true);
      expect(path.basename(path.dirname(r.path))).toBe(LABEL_NAMES[r.label]);
    }
    const paths = records.map((r) => r.path);
    expect([...paths].sort()).toEqual(paths);
  });

  it('scans class folders (any case) when there is no manifest, with the same result', async () => {
    const root = path.join(dir, 'folders');
    for (const [from, to] of [
      ['NORMAL', 'normal'],
      ['PNEUMONIA', 'Pneumonia'],
    ]) {
      await mkdir(path.join(root, to), { recursive: true });
      for (const f of await readdir(path.join(SAMPLE_DATA_DIR, from))) {
        await copyFile(path.join(SAMPLE_DATA_DIR, from, f), path.join(root, to, f));
      }
    }
    await writeFile(path.join(root, 'normal', 'notes.txt'), 'not an image');
    await mkdir(path.join(root, 'other'));
    const scanned = await loadDataset(root);
    const fromManifest = await loadDataset(SAMPLE_DATA_DIR);
    // The manifest's patient ids agree with the ids derived from the file names.
    const norm = (rows: Array<[string, number, string]>) =>
      rows.map(([p, l, id]) => [p.toUpperCase(), l, id]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
    expect(norm(relative(root, scanned))).toEqual(norm(relative(SAMPLE_DATA_DIR, fromManifest)));
  });

  it('accepts .jpeg and .png files and derives patient ids from names', async () => {
    const root = path.join(dir, 'mixed-ext');
    await mkdir(path.join(root, 'NORMAL'), { recursive: true });
    await mkdir(path.join(root, 'PNEUMONIA'), { recursive: true });
    await writeFile(path.join(root, 'NORMAL', 'IM-0001-0001.jpeg'), 'x');
    await writeFile(path.join(root, 'NORMAL', 'NORMAL2-IM-0002-0001.PNG'), 'x');
    await writeFile(path.join(root, 'PNEUMONIA', 'person5_virus_9.jpg'), 'x');
    await writeFile(path.join(root, 'PNEUMONIA', 'person5_bacteria_10.jpg'), 'x');
    await writeFile(path.join(root, 'PNEUMONIA', 'scan.gif'), 'x');
    expect(relative(root, await loadDataset(root))).toEqual([
      ['NORMAL/IM-0001-0001.jpeg', 0, '0001'],
      ['NORMAL/NORMAL2-IM-0002-0001.PNG', 0, 'NORMAL2-0002'],
      ['PNEUMONIA/person5_bacteria_10.jpg', 1, 'person5'],
      ['PNEUMONIA/person5_virus_9.jpg', 1, 'person5'],
    ]);
  });

  it('filters a manifest on source_split and fills missing patient ids from names', async () => {
    const root = path.join(dir, 'manifest');
    await mkdir(path.join(root, 'train', 'NORMAL'), { recursive: true });
    await mkdir(path.join(root, 'val', 'PNEUMONIA'), { recursive: true });
    await writeFile(path.join(root, 'train', 'NORMAL', 'IM-0007-0001.jpg'), 'x');
    await writeFile(path.join(root, 'val', 'PNEUMONIA', 'person9_virus_1.jpg'), 'x');
    await writeFile(
      path.join(root, 'manifest.csv'),
      'path,label,patient_id,source_split,sha256\n' +
        'train/NORMAL/IM-0007-0001.jpg,NORMAL,,train,aa\n' +
        'val/PNEUMONIA/person9_virus_1.jpg,pneumonia,p9,val,bb\n' +
        'test/NORMAL/IM-0001-0001.jpg,NORMAL,0001,test,cc\n',
    );
    expect(relative(root, await loadDataset(root, { split: 'train' }))).toEqual([
      ['train/NORMAL/IM-0007-0001.jpg', 0, '0007'],
    ]);
    expect(relative(root, await loadDataset(root, { split: 'val' }))).toEqual([
      ['val/PNEUMONIA/person9_virus_1.jpg', 1, 'p9'],
    ]);
    // Without a filter, the listed but absent test image is an error that names it.
    await expect(loadDataset(root)).rejects.toThrow(/1 image\(s\).*IM-0001-0001\.jpg.*split/);
    await expect(loadDataset(root, { split: 'nope' })).rejects.toThrow(/no rows for split 'nope'/);
  });

  it('reads class folders under dir/<split> when there is no manifest', async () => {
    const root = path.join(dir, 'split-folders');
    await mkdir(path.join(root, 'train', 'PNEUMONIA'), { recursive: true });
    await writeFile(path.join(root, 'train', 'PNEUMONIA', 'person1_bacteria_1.jpg'), 'x');
    expect(relative(root, await loadDataset(root, { split: 'train' }))).toEqual([
      ['train/PNEUMONIA/person1_bacteria_1.jpg', 1, 'person1'],
    ]);
  });

  it('rejects bad labels and folders without data, with a clear error', async () => {
    const root = path.join(dir, 'bad-label');
    await mkdir(root, { recursive: true });
    await writeFile(path.join(root, 'manifest.csv'), 'path,label\na.jpg,COVID\n');
    await expect(loadDataset(root)).rejects.toThrow(/line 2: unknown label 'COVID'/);
    const empty = path.join(dir, 'nothing');
    await mkdir(empty);
    await expect(loadDataset(empty)).rejects.toBeInstanceOf(DatasetError);
    await expect(loadDataset(empty)).rejects.toThrow(
      /neither manifest\.csv nor NORMAL\/ and PNEUMONIA\//,
    );
    await expect(loadDataset(path.join(dir, 'missing'))).rejects.toThrow(/neither/);
  });

  it('the sample manifest keeps the source columns and checksums', async () => {
    const text = await readFile(path.join(SAMPLE_DATA_DIR, 'manifest.csv'), 'utf8');
    const rows = parseCsvRecords(text);
    expect(Object.keys(rows[0])).toEqual(['path', 'label', 'patient_id', 'source_split', 'sha256']);
    expect(rows.every((r) => r.source_split === 'train' && /^[0-9a-f]{64}$/.test(r.sha256))).toBe(
      true,
    );
    expect(new Set(rows.map((r) => r.patient_id)).size).toBe(rows.length);
  });
});

describe('summarize', () => {
  it('counts images and patients per class; any PNEUMONIA image makes a PNEUMONIA patient', () => {
    const records: XrayRecord[] = [
      { path: '/a', label: 0, patientId: 'p1' },
      { path: '/b', label: 1, patientId: 'p1' },
      { path: '/c', label: 0, patientId: 'p2' },
      { path: '/d', label: 1, patientId: 'p3' },
      { path: '/e', label: 1, patientId: 'p3' },
    ];
    expect(summarize(records)).toEqual({
      images: 5,
      imagesPerClass: [2, 3],
      patients: 3,
      patientsPerClass: [1, 2],
    });
  });
});
