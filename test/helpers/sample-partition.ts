import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  LABEL_NAMES,
  loadDataset,
  partitionByPatient,
  SAMPLE_DATA_DIR,
} from '../../shared/data/index.ts';

/**
 * Splits the shipped sample by patient (IID) into one NORMAL/ + PNEUMONIA/ directory per
 * hospital under `root`; answers the directories in the order of `hospitals`.
 */
export async function partitionSample(
  root: string,
  hospitals: readonly string[],
): Promise<string[]> {
  const records = await loadDataset(SAMPLE_DATA_DIR);
  const parts = partitionByPatient(records, { clients: hospitals.length, scheme: 'iid', seed: 7 });
  return Promise.all(
    parts.map(async (part, i) => {
      const dir = path.join(root, hospitals[i]);
      for (const label of LABEL_NAMES) await mkdir(path.join(dir, label), { recursive: true });
      for (const record of part) {
        await copyFile(
          record.path,
          path.join(dir, LABEL_NAMES[record.label], path.basename(record.path)),
        );
      }
      return dir;
    }),
  );
}
