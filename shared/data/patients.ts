/** Grouping records by patient, the unit of every split and partition. */
import type { Label, XrayRecord } from './dataset.ts';

export interface PatientGroup {
  patientId: string;
  /** 1 if any image of the patient is PNEUMONIA, else 0. */
  label: Label;
  records: XrayRecord[];
}

/** Patient groups sorted by id (records inside in input order), so callers start deterministic. */
export function groupByPatient(records: readonly XrayRecord[]): PatientGroup[] {
  const groups = new Map<string, PatientGroup>();
  for (const r of records) {
    let g = groups.get(r.patientId);
    if (!g) {
      g = { patientId: r.patientId, label: 0, records: [] };
      groups.set(r.patientId, g);
    }
    g.records.push(r);
    if (r.label === 1) g.label = 1;
  }
  return [...groups.values()].sort((a, b) =>
    a.patientId < b.patientId ? -1 : a.patientId > b.patientId ? 1 : 0,
  );
}

/** Patient groups split by patient label: [NORMAL patients, PNEUMONIA patients]. */
export function patientsByClass(records: readonly XrayRecord[]): [PatientGroup[], PatientGroup[]] {
  const groups = groupByPatient(records);
  return [groups.filter((g) => g.label === 0), groups.filter((g) => g.label === 1)];
}

export function countImages(groups: readonly PatientGroup[]): number {
  return groups.reduce((n, g) => n + g.records.length, 0);
}
