/**
 * Rebuilds data/sample: 60 NORMAL + 60 PNEUMONIA images from the official train split of the
 * converted Kermany chest X-ray copy, one image per patient, chosen with a fixed seed. Files
 * are copied byte for byte, so sha256 values match the source manifest.
 *
 *   npx tsx scripts/make-sample.ts [source-dir]   (default /work/shared/data/chest-xray)
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseCsvRecords } from '../shared/data/csv.ts';
import { LABEL_NAMES, labelFromName } from '../shared/data/dataset.ts';
import { SAMPLE_DATA_DIR, SAMPLE_PER_CLASS } from '../shared/data/sample.ts';
import { createRng } from '../shared/util/random.ts';

const SEED = 20180222;
const SOURCE = path.resolve(process.argv[2] ?? '/work/shared/data/chest-xray');
const COLUMNS = ['path', 'label', 'patient_id', 'source_split', 'sha256'] as const;
type Row = Record<(typeof COLUMNS)[number], string>;

const ATTRIBUTION = `# Sample chest X-rays: attribution

The ${2 * SAMPLE_PER_CLASS} images in this folder (${SAMPLE_PER_CLASS} NORMAL, ${SAMPLE_PER_CLASS} PNEUMONIA, each from a different
patient, all from the official train split) are a subset of:

Kermany D, Zhang K, Goldbaum M (2018). *Labeled Optical Coherence Tomography (OCT) and Chest
X-Ray Images for Classification*. Mendeley Data, v2. doi:10.17632/rscbjbr9sj.2

Associated paper: Kermany DS, Goldbaum M, Cai W, et al. *Identifying Medical Diagnoses and
Treatable Diseases by Image-Based Deep Learning*. Cell 172(5):1122-1131.e9, 2018.
doi:10.1016/j.cell.2018.02.010

License: Creative Commons Attribution 4.0 International (CC BY 4.0),
https://creativecommons.org/licenses/by/4.0/

Changes: the images come from a public copy of the Kaggle "chest-xray-pneumonia" layout that
had been resized to 224 x 224 (plain resize, aspect ratio not kept) and stored as JPEG. They
were then converted to single-channel 8-bit grayscale, resized to 256 x 256 with a Lanczos-3
kernel (plain resize, no crop or padding) and stored as baseline JPEG, quality 92, with
metadata stripped. The file names are the original names with \`.jpeg\` changed to \`.jpg\`.

\`manifest.csv\` lists each file (path relative to this folder), its label, patient id, official
split and SHA-256. The selection is reproduced by \`npx tsx scripts/make-sample.ts\`.
`;

async function main(): Promise<void> {
  const rows = parseCsvRecords(await readFile(path.join(SOURCE, 'manifest.csv'), 'utf8')) as Row[];
  const train = rows.filter((r) => r.source_split === 'train');
  const patients = new Map<string, Row[]>();
  for (const row of train) {
    const list = patients.get(row.patient_id) ?? [];
    list.push(row);
    patients.set(row.patient_id, list);
  }
  const rng = createRng(SEED);
  const chosen: Row[] = [];
  for (const name of LABEL_NAMES) {
    const classRng = rng.fork();
    const label = labelFromName(name);
    const ids = [...patients.keys()]
      .filter((id) => patients.get(id)?.every((r) => labelFromName(r.label) === label))
      .sort();
    for (const id of classRng.shuffle(ids).slice(0, SAMPLE_PER_CLASS)) {
      const images = [...(patients.get(id) ?? [])].sort((a, b) => (a.path < b.path ? -1 : 1));
      chosen.push(images[classRng.int(images.length)]);
    }
  }

  for (const name of LABEL_NAMES) {
    await rm(path.join(SAMPLE_DATA_DIR, name), { recursive: true, force: true });
    await mkdir(path.join(SAMPLE_DATA_DIR, name), { recursive: true });
  }
  const out: Row[] = [];
  let bytes = 0;
  for (const row of chosen) {
    const data = await readFile(path.join(SOURCE, row.path));
    const sha = createHash('sha256').update(data).digest('hex');
    if (sha !== row.sha256) throw new Error(`sha256 mismatch for ${row.path}`);
    const relative = `${row.label}/${path.basename(row.path)}`;
    await writeFile(path.join(SAMPLE_DATA_DIR, relative), data);
    bytes += data.length;
    out.push({ ...row, path: relative });
  }
  out.sort((a, b) => (a.path < b.path ? -1 : 1));
  const csv = [COLUMNS.join(','), ...out.map((r) => COLUMNS.map((c) => r[c]).join(','))].join('\n');
  await writeFile(path.join(SAMPLE_DATA_DIR, 'manifest.csv'), `${csv}\n`);
  await writeFile(path.join(SAMPLE_DATA_DIR, 'ATTRIBUTION.md'), ATTRIBUTION);
  const manifestBytes = (await stat(path.join(SAMPLE_DATA_DIR, 'manifest.csv'))).size;
  console.log(
    `wrote ${out.length} images (${(bytes / 1024).toFixed(0)} KiB) + manifest (${manifestBytes} B) to ${SAMPLE_DATA_DIR}`,
  );
}

await main();
