import {
  loadDataset,
  splitByPatient,
  summarize,
  type XrayRecord,
} from '../../../shared/data/index.ts';

export interface ClassCounts {
  NORMAL: number;
  PNEUMONIA: number;
  total: number;
}

/** The hospital's images, split by patient. Records hold paths: they never leave this module's users. */
export interface LocalData {
  train: readonly XrayRecord[];
  validation: readonly XrayRecord[];
  counts: { all: ClassCounts; train: ClassCounts; validation: ClassCounts };
  /** Every string that identifies an image or a patient, for scrubbing messages. */
  identifiers: readonly string[];
}

export async function loadLocalData(
  dataDir: string,
  options: { valFraction: number; seed: number },
): Promise<LocalData> {
  const records = await loadDataset(dataDir);
  const { train, val } = splitByPatient(records, options);
  return {
    train,
    validation: val,
    counts: {
      all: countClasses(records),
      train: countClasses(train),
      validation: countClasses(val),
    },
    identifiers: identifiersOf(dataDir, records),
  };
}

export function countClasses(records: readonly XrayRecord[]): ClassCounts {
  const [NORMAL, PNEUMONIA] = summarize(records).imagesPerClass;
  return { NORMAL, PNEUMONIA, total: records.length };
}

function identifiersOf(dataDir: string, records: readonly XrayRecord[]): string[] {
  const ids = new Set<string>([dataDir]);
  for (const r of records) {
    ids.add(r.path);
    const base = r.path.split(/[\\/]/).pop() ?? r.path;
    ids.add(base);
    ids.add(base.replace(/\.[^.]+$/, ''));
    ids.add(r.patientId);
  }
  return [...ids].filter((s) => s.length > 0);
}
