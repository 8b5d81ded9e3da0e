import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadDataset, SAMPLE_DATA_DIR } from '../../shared/data/index.ts';
import type { HospitalConfig } from '../../services/hospital-node/config.ts';

export const TOKEN = 'hospital-token-for-tests-0123456789';

/** What must never appear in anything the node answers or sends. */
export interface LocalSecrets {
  dir: string;
  fileNames: string[];
  patientIds: string[];
}

/**
 * A small hospital: `perClass` sample images per class under distinctive file names, with
 * distinctive patient ids (two images per patient) in a manifest, so a leak is easy to spot.
 */
export async function makeHospitalData(perClass = 20): Promise<LocalSecrets> {
  const dir = await mkdtemp(path.join(tmpdir(), 'fedxray-hospital-'));
  const sample = await loadDataset(SAMPLE_DATA_DIR);
  const rows = ['path,label,patient_id'];
  const fileNames: string[] = [];
  const patientIds = new Set<string>();
  for (const label of [0, 1] as const) {
    const name = label === 0 ? 'NORMAL' : 'PNEUMONIA';
    await mkdir(path.join(dir, name), { recursive: true });
    const records = sample.filter((r) => r.label === label).slice(0, perClass);
    for (const [i, record] of records.entries()) {
      const fileName = `zzsecretscan-${name.toLowerCase()}-${String(i).padStart(3, '0')}.jpg`;
      const patientId = `MRN-ZQX-${label}${String(Math.floor(i / 2)).padStart(3, '0')}`;
      await copyFile(record.path, path.join(dir, name, fileName));
      rows.push(`${name}/${fileName},${name},${patientId}`);
      fileNames.push(fileName);
      patientIds.add(patientId);
    }
  }
  await writeFile(path.join(dir, 'manifest.csv'), rows.join('\n') + '\n');
  return { dir, fileNames, patientIds: [...patientIds] };
}

export function hospitalConfig(
  dataDir: string,
  aggregatorUrl: string,
  overrides: Partial<HospitalConfig> = {},
): HospitalConfig {
  return {
    hospitalId: 'hospital-a',
    dataDir,
    aggregatorUrl,
    hospitalToken: TOKEN,
    port: 0,
    host: '127.0.0.1',
    valFraction: 0.2,
    seed: 42,
    ...overrides,
  };
}

/** Every string in `text` that gives local data away. */
export function leaks(text: string, secrets: LocalSecrets): string[] {
  const found: string[] = [];
  const needles = [
    secrets.dir,
    'zzsecretscan',
    'MRN-ZQX',
    '.jpg',
    ...secrets.fileNames,
    ...secrets.patientIds,
  ];
  for (const needle of needles) if (text.includes(needle)) found.push(needle);
  return found;
}
