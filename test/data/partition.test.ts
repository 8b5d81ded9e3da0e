import { describe, expect, it } from 'vitest';
import { summarize, type XrayRecord } from '../../shared/data/dataset.ts';
import { partitionByPatient, type PartitionOptions } from '../../shared/data/partition.ts';
import { createRng } from '../../shared/util/random.ts';

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

const records = synthRecords(2000);
const overallRate = summarize(records).imagesPerClass[1] / records.length;

function checkInvariants(parts: XrayRecord[][], clients: number, input = records): void {
  expect(parts).toHaveLength(clients);
  for (const part of parts) expect(part.length).toBeGreaterThan(0);
  const owner = new Map<string, number>();
  parts.forEach((part, c) => {
    for (const r of part) {
      const prev = owner.get(r.patientId);
      expect(prev === undefined || prev === c).toBe(true);
      owner.set(r.patientId, c);
    }
  });
  const union = parts
    .flat()
    .map((r) => r.path)
    .sort();
  expect(union).toEqual(input.map((r) => r.path).sort());
}

/** Mean absolute gap between each client's PNEUMONIA share and the overall share. */
function labelSkew(parts: XrayRecord[][]): number {
  const gaps = parts.map((p) => Math.abs(summarize(p).imagesPerClass[1] / p.length - overallRate));
  return gaps.reduce((a, b) => a + b, 0) / parts.length;
}

describe('partitionByPatient', () => {
  it('iid: image counts near equal and class ratios near the overall one', () => {
    for (const clients of [2, 3, 5, 10]) {
      const parts = partitionByPatient(records, { clients, scheme: 'iid', seed: 1 });
      checkInvariants(parts, clients);
      const sizes = parts.map((p) => p.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(4);
      expect(labelSkew(parts)).toBeLessThan(0.01);
    }
  });

  it('dirichlet: alpha 0.1 is label-skewed, alpha 100 near balanced', () => {
    const skewed: number[] = [];
    const balanced: number[] = [];
    for (let seed = 1; seed <= 5; seed++) {
      const low = partitionByPatient(records, {
        clients: 5,
        scheme: 'dirichlet',
        alpha: 0.1,
        seed,
      });
      const high = partitionByPatient(records, {
        clients: 5,
        scheme: 'dirichlet',
        alpha: 100,
        seed,
      });
      checkInvariants(low, 5);
      checkInvariants(high, 5);
      skewed.push(labelSkew(low));
      balanced.push(labelSkew(high));
      const sizes = high.map((p) => p.length);
      expect(Math.max(...sizes) / Math.min(...sizes)).toBeLessThan(1.5);
    }
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(skewed)).toBeGreaterThan(0.2);
    expect(mean(balanced)).toBeLessThan(0.05);
  });

  it('gives every client a patient even with far more clients than a skewed draw fills', () => {
    const few = synthRecords(30, 9);
    for (let seed = 0; seed < 20; seed++) {
      const parts = partitionByPatient(few, {
        clients: 12,
        scheme: 'dirichlet',
        alpha: 0.05,
        seed,
      });
      checkInvariants(parts, 12, few);
    }
    const exact = partitionByPatient(few, { clients: 30, scheme: 'iid', seed: 1 });
    checkInvariants(exact, 30, few);
    expect(exact.every((p) => new Set(p.map((r) => r.patientId)).size === 1)).toBe(true);
  });

  it('is deterministic for a seed and differs between seeds', () => {
    const opts: PartitionOptions = { clients: 4, scheme: 'dirichlet', alpha: 0.5, seed: 11 };
    const paths = (parts: XrayRecord[][]): string[][] => parts.map((p) => p.map((r) => r.path));
    const a = partitionByPatient(records, opts);
    expect(paths(partitionByPatient([...records].reverse(), opts))).toEqual(paths(a));
    expect(paths(partitionByPatient(records, { ...opts, seed: 12 }))).not.toEqual(paths(a));
    const iid = { clients: 3, scheme: 'iid', seed: 5 } as const;
    expect(paths(partitionByPatient(records, iid))).toEqual(
      paths(partitionByPatient(records, iid)),
    );
    expect(paths(partitionByPatient(records, { ...iid, seed: 6 }))).not.toEqual(
      paths(partitionByPatient(records, iid)),
    );
  });

  it('rejects impossible requests', () => {
    const few = synthRecords(3);
    expect(() => partitionByPatient(few, { clients: 4, scheme: 'iid', seed: 1 })).toThrow(
      /3 patient/,
    );
    expect(() => partitionByPatient(records, { clients: 0, scheme: 'iid', seed: 1 })).toThrow(
      RangeError,
    );
    expect(() =>
      partitionByPatient(records, { clients: 2, scheme: 'dirichlet', alpha: 0, seed: 1 }),
    ).toThrow(/alpha/);
  });
});
