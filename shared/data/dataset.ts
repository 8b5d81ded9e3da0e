/** Loading the list of labelled images: from manifest.csv when present, else from class folders. */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseCsvRecords } from './csv.ts';
import { patientIdFromFileName } from './patient-id.ts';

export const LABEL_NAMES = ['NORMAL', 'PNEUMONIA'] as const;
export type LabelName = (typeof LABEL_NAMES)[number];
/** 0 = NORMAL, 1 = PNEUMONIA (the positive class). */
export type Label = 0 | 1;

export interface XrayRecord {
  /** Absolute path of the image file. */
  path: string;
  /** 1 = PNEUMONIA (positive class), 0 = NORMAL. */
  label: Label;
  patientId: string;
}

export interface LoadDatasetOptions {
  /**
   * With a manifest: keep only rows whose source_split equals this. Without one: read the
   * class folders under dir/<split> instead of dir.
   */
  split?: string;
}

export const MANIFEST_FILE = 'manifest.csv';
/** What a class folder scan picks up; DICOM files are decoded by content (shared/data/dicom.ts). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.dcm', '.dicom'];

export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

export function labelFromName(name: string): Label | null {
  const upper = name.trim().toUpperCase();
  if (upper === 'NORMAL') return 0;
  if (upper === 'PNEUMONIA') return 1;
  return null;
}

/** Deterministic order independent of locale: by path, code-unit order. */
export function sortRecords(records: XrayRecord[]): XrayRecord[] {
  return records.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

async function fromManifest(dir: string, split: string | undefined): Promise<XrayRecord[]> {
  const file = path.join(dir, MANIFEST_FILE);
  const rows = parseCsvRecords(await readFile(file, 'utf8'));
  if (rows.length === 0) throw new DatasetError(`${file} has no rows`);
  for (const column of ['path', 'label']) {
    if (!(column in rows[0])) throw new DatasetError(`${file} has no '${column}' column`);
  }
  if (split !== undefined && !('source_split' in rows[0])) {
    throw new DatasetError(`${file} has no 'source_split' column to filter on split '${split}'`);
  }
  const records: XrayRecord[] = [];
  rows.forEach((row, i) => {
    if (split !== undefined && row.source_split !== split) return;
    const label = labelFromName(row.label);
    if (label === null) {
      throw new DatasetError(`${file} line ${i + 2}: unknown label '${row.label}'`);
    }
    if (row.path.trim() === '') throw new DatasetError(`${file} line ${i + 2}: empty path`);
    const relative = row.path.trim();
    const patientId = row.patient_id?.trim() || patientIdFromFileName(relative);
    records.push({ path: path.resolve(dir, relative), label, patientId });
  });
  if (records.length === 0) {
    throw new DatasetError(
      `${file} has no rows${split === undefined ? '' : ` for split '${split}'`}`,
    );
  }
  const missing: string[] = [];
  await Promise.all(
    records.map(async (r) => {
      if (!(await exists(r.path))) missing.push(r.path);
    }),
  );
  if (missing.length > 0) {
    missing.sort();
    throw new DatasetError(
      `${missing.length} image(s) listed in ${file} do not exist, e.g. ${missing.slice(0, 3).join(', ')}` +
        (split === undefined
          ? ' (filter with the split option if only some splits are on disk)'
          : ''),
    );
  }
  return records;
}

async function fromFolders(dir: string): Promise<XrayRecord[] | null> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return null;
  }
  const classDirs = entries.filter((e) => e.isDirectory() && labelFromName(e.name) !== null);
  if (classDirs.length === 0) return null;
  const records: XrayRecord[] = [];
  for (const classDir of classDirs) {
    const label = labelFromName(classDir.name) as Label;
    const folder = path.join(dir, classDir.name);
    for (const file of await readdir(folder, { withFileTypes: true })) {
      if (!file.isFile()) continue;
      if (!IMAGE_EXTENSIONS.includes(path.extname(file.name).toLowerCase())) continue;
      records.push({
        path: path.join(folder, file.name),
        label,
        patientId: patientIdFromFileName(file.name),
      });
    }
  }
  return records;
}

/**
 * Lists the labelled images of a dataset folder, sorted by path. Uses dir/manifest.csv
 * (columns path,label[,patient_id,source_split,...], paths relative to dir) when present;
 * otherwise scans dir/NORMAL and dir/PNEUMONIA (folder names case-insensitive) for
 * .jpg/.jpeg/.png/.dcm/.dicom files and derives patient ids from the file names. A manifest
 * may list any of these.
 */
export async function loadDataset(
  dir: string,
  opts: LoadDatasetOptions = {},
): Promise<XrayRecord[]> {
  const root = path.resolve(dir);
  let records: XrayRecord[] | null;
  if (await exists(path.join(root, MANIFEST_FILE))) {
    records = await fromManifest(root, opts.split);
  } else {
    const folder = opts.split === undefined ? root : path.join(root, opts.split);
    records = await fromFolders(folder);
    if (records === null) {
      throw new DatasetError(
        `${folder} has neither ${MANIFEST_FILE} nor NORMAL/ and PNEUMONIA/ image folders`,
      );
    }
  }
  if (records.length === 0)
    throw new DatasetError(`no ${IMAGE_EXTENSIONS.join('/')} images found in ${root}`);
  return sortRecords(records);
}

export interface DatasetSummary {
  images: number;
  /** Images per class, indexed by label. */
  imagesPerClass: [number, number];
  patients: number;
  /** Patients per class; a patient with any PNEUMONIA image counts as PNEUMONIA. */
  patientsPerClass: [number, number];
}

export function summarize(records: readonly XrayRecord[]): DatasetSummary {
  const imagesPerClass: [number, number] = [0, 0];
  const patientLabel = new Map<string, Label>();
  for (const r of records) {
    imagesPerClass[r.label]++;
    if (r.label === 1 || !patientLabel.has(r.patientId)) patientLabel.set(r.patientId, r.label);
  }
  const patientsPerClass: [number, number] = [0, 0];
  for (const label of patientLabel.values()) patientsPerClass[label]++;
  return {
    images: records.length,
    imagesPerClass,
    patients: patientLabel.size,
    patientsPerClass,
  };
}

/** One line for logs, e.g. "5216 images (NORMAL 1341, PNEUMONIA 3875), 2846 patients". */
export function formatSummary(summary: DatasetSummary): string {
  const [n0, n1] = summary.imagesPerClass;
  return `${summary.images} images (${LABEL_NAMES[0]} ${n0}, ${LABEL_NAMES[1]} ${n1}), ${summary.patients} patients`;
}
