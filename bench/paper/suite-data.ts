/**
 * The data every experiment of a run shares: the training records and the patient-level
 * validation split carved from --data, with the identity stored in each result, and the
 * hospitals' shares of a partition.
 */
import { createHash } from 'node:crypto';
import { relative, sep } from 'node:path';
import { prepareData } from '../../shared/cli/data-setup.ts';
import {
  loadDataset,
  partitionByPatient,
  summarize,
  type XrayRecord,
} from '../../shared/data/index.ts';
import type { PartitionSpec } from './experiments.ts';
import type { DataIdentity, PartitionInfo } from './results.ts';

/** The training data and the validation split shared by every experiment of a run. */
export interface SuiteData {
  train: XrayRecord[];
  val: XrayRecord[];
  identity: DataIdentity;
}

function recordsHash(dataDir: string, records: readonly XrayRecord[]): string {
  const lines = records
    .map((r) => `${relative(dataDir, r.path).split(sep).join('/')}\t${r.label}\t${r.patientId}`)
    .sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

/**
 * Loads --data and carves the validation split exactly as `fedxray train|simulate` do
 * (prepareData: optional seeded --limit subset, then splitByPatient by patient, stratified).
 */
export async function loadSuiteData(
  dataDir: string,
  split: { valFraction: number; seed: number; limit: number | null },
): Promise<SuiteData> {
  const all = await loadDataset(dataDir);
  const prepared = await prepareData({
    dataDir,
    valFraction: split.valFraction,
    seed: split.seed,
    limit: split.limit ?? undefined,
  });
  if (prepared.val.length === 0)
    throw new Error(`The validation split of ${dataDir} is empty: use more images`);
  const t = summarize(prepared.train);
  const v = summarize(prepared.val);
  return {
    train: prepared.train,
    val: prepared.val,
    identity: {
      dataDir,
      images: all.length,
      usedImages: prepared.train.length + prepared.val.length,
      trainImages: prepared.train.length,
      trainPatients: t.patients,
      valImages: prepared.val.length,
      valPatients: v.patients,
      valPneumonia: prepared.val.filter((r) => r.label === 1).length,
      trainHash: recordsHash(dataDir, prepared.train),
      valHash: recordsHash(dataDir, prepared.val),
      description: prepared.description,
    },
  };
}

/** The hospital shares of a partition, exactly as runSimulation makes them. */
export function hospitalShares(
  train: readonly XrayRecord[],
  p: { clients: number; partition: PartitionSpec; seed: number },
): XrayRecord[][] {
  return partitionByPatient([...train], {
    clients: p.clients,
    scheme: p.partition.scheme,
    alpha: p.partition.alpha ?? 0.5,
    seed: p.seed,
  });
}

export function describeShare(clientId: string, records: readonly XrayRecord[]): PartitionInfo {
  return {
    clientId,
    images: records.length,
    pneumonia: records.filter((r) => r.label === 1).length,
    patients: new Set(records.map((r) => r.patientId)).size,
  };
}
