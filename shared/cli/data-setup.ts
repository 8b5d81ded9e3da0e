import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadDataset, splitByPatient, summarize, type XrayRecord } from '../data/index.ts';
import { createRng } from '../util/random.ts';

export interface PreparedData {
  train: XrayRecord[];
  val: XrayRecord[];
  description: string;
}

/**
 * Loads the training data and its validation split: an explicit --val-data directory, or a
 * deterministic patient-level stratified split carved from the training data.
 */
export async function prepareData(opts: {
  dataDir: string;
  valDataDir?: string;
  valFraction: number;
  seed: number;
  limit?: number;
}): Promise<PreparedData> {
  let records = await loadDataset(opts.dataDir);
  if (opts.limit !== undefined && opts.limit < records.length) {
    records = createRng(opts.seed)
      .shuffle([...records])
      .slice(0, opts.limit);
  }
  if (opts.valDataDir) {
    const val = await loadDataset(opts.valDataDir);
    const valPatients = new Set(val.map((r) => r.patientId));
    const train = records.filter((r) => !valPatients.has(r.patientId));
    return { train, val, description: `validation from ${opts.valDataDir}` };
  }
  if (opts.valFraction === 0)
    return { train: records, val: [], description: 'no validation split' };
  const { train, val } = splitByPatient(records, {
    valFraction: opts.valFraction,
    seed: opts.seed,
  });
  return {
    train,
    val,
    description: `patient-level stratified split, ${Math.round(opts.valFraction * 100)}% validation, seed ${opts.seed}`,
  };
}

export function describeSplit(data: PreparedData): string {
  const t = summarize(data.train);
  const v = summarize(data.val);
  return `train ${data.train.length} images (${t.patients} patients), validation ${data.val.length} images (${v.patients} patients); ${data.description}`;
}

/** Writes a manifest.csv (absolute paths) so the same split can be scored again with --data DIR. */
export async function writeManifest(
  dir: string,
  records: readonly XrayRecord[],
  split: string,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const rows = records.map(
    (r) => `${r.path},${r.label === 1 ? 'PNEUMONIA' : 'NORMAL'},${r.patientId},${split},`,
  );
  await writeFile(
    join(dir, 'manifest.csv'),
    ['path,label,patient_id,source_split,sha256', ...rows].join('\n') + '\n',
  );
}
