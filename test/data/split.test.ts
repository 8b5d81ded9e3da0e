import { describe, expect, it } from 'vitest';
import { summarize, type XrayRecord } from '../../shared/data/dataset.ts';
import { splitByPatient } from '../../shared/data/split.ts';
import { createRng } from '../../shared/util/random.ts';

/** Patients with 1-5 images, about 1 NORMAL : 2.9 PNEUMONIA images like the real data. */
function synthRecords(patients: number, seed = 1): XrayRecord[] {
  const rng = createRng(seed);
  const records: XrayRecord[] = [];
  for (let p = 0; p < patients; p++) {
    const pneumonia = rng.next() < 0.6;
    const images = pneumonia ? 1 + rng.int(4) : 1 + rng.int(2);
    for (let k = 0; k < images; k++) {
      records.push({ path: `/d/${p}-${k}.jpg`, label: pneumonia ? 1 : 0, patientId: `p${p}` });
    }
  }
  return records;
}

const patientsOf = (records: XrayRecord[]): Set<string> => new Set(records.map((r) => r.patientId));
const positiveRate = (records: XrayRecord[]): number =>
  records.filter((r) => r.label === 1).length / records.length;

describe('splitByPatient', () => {
  const records = synthRecords(1500);

  it('puts no patient on both sides and loses no record', () => {
    const { train, val } = splitByPatient(records, { valFraction: 0.2, seed: 7 });
    const trainPatients = patientsOf(train);
    for (const id of patientsOf(val)) expect(trainPatients.has(id)).toBe(false);
    expect(train.length + val.length).toBe(records.length);
    expect(new Set([...train, ...val].map((r) => r.path)).size).toBe(records.length);
  });

  it('keeps the val fraction and class ratio close to the overall ones', () => {
    for (const valFraction of [0.1, 0.2, 0.5]) {
      const { val } = splitByPatient(records, { valFraction, seed: 3 });
      expect(val.length / records.length).toBeCloseTo(valFraction, 2);
      expect(Math.abs(positiveRate(val) - positiveRate(records))).toBeLessThan(0.01);
    }
  });

  it('stratifies by patient: mixed patients count as PNEUMONIA and stay together', () => {
    const mixed: XrayRecord[] = [
      ...records,
      { path: '/m/1.jpg', label: 0, patientId: 'mixed' },
      { path: '/m/2.jpg', label: 1, patientId: 'mixed' },
    ];
    const { train, val } = splitByPatient(mixed, { valFraction: 0.3, seed: 1 });
    const side = [train, val].filter((s) => s.some((r) => r.patientId === 'mixed'));
    expect(side).toHaveLength(1);
    expect(side[0].filter((r) => r.patientId === 'mixed')).toHaveLength(2);
  });

  it('is deterministic for a seed and differs between seeds', () => {
    const a = splitByPatient(records, { valFraction: 0.1, seed: 42 });
    const b = splitByPatient([...records].reverse(), { valFraction: 0.1, seed: 42 });
    const c = splitByPatient(records, { valFraction: 0.1, seed: 43 });
    expect(b.val.map((r) => r.path)).toEqual(a.val.map((r) => r.path));
    expect(c.val.map((r) => r.path)).not.toEqual(a.val.map((r) => r.path));
  });

  it('handles the edges: 0, 1, a tiny class, a bad fraction', () => {
    expect(splitByPatient(records, { valFraction: 0, seed: 1 }).val).toHaveLength(0);
    expect(splitByPatient(records, { valFraction: 1, seed: 1 }).train).toHaveLength(0);
    const tiny = synthRecords(20, 5);
    const { val } = splitByPatient(tiny, { valFraction: 0.01, seed: 1 });
    expect(summarize(val).patientsPerClass.every((n) => n >= 1)).toBe(true);
    expect(() => splitByPatient(records, { valFraction: 1.5, seed: 1 })).toThrow(RangeError);
  });
});
