/** Partition of a dataset over federated clients (hospitals), always by patient. */
import { createRng, type Rng } from '../util/random.ts';
import { sortRecords, type XrayRecord } from './dataset.ts';
import { countImages, patientsByClass, type PatientGroup } from './patients.ts';

export type PartitionScheme = 'iid' | 'dirichlet';

export interface PartitionOptions {
  clients: number;
  scheme: PartitionScheme;
  /** Dirichlet concentration (scheme 'dirichlet'); small = skewed, large = near IID. Default 0.5. */
  alpha?: number;
  seed: number;
}

export const DEFAULT_DIRICHLET_ALPHA = 0.5;

/** IID: largest patients first (random among equals) to the client with the fewest images of the class. */
function dealBalanced(
  patients: PatientGroup[],
  clients: number,
  rng: Rng,
  out: PatientGroup[][],
): void {
  const order = rng.shuffle([...patients]).sort((a, b) => b.records.length - a.records.length);
  const load = new Array<number>(clients).fill(0);
  const total = out.map((groups) => countImages(groups));
  for (const g of order) {
    let best = 0;
    for (let c = 1; c < clients; c++) {
      if (load[c] < load[best] || (load[c] === load[best] && total[c] < total[best])) best = c;
    }
    out[best].push(g);
    load[best] += g.records.length;
    total[best] += g.records.length;
  }
}

function dirichlet(alpha: number, k: number, rng: Rng): number[] {
  for (let attempt = 0; attempt < 100; attempt++) {
    const draws = Array.from({ length: k }, () => rng.gamma(alpha));
    const sum = draws.reduce((a, b) => a + b, 0);
    if (sum > 0 && Number.isFinite(sum)) return draws.map((d) => d / sum);
  }
  // Every gamma draw underflowed (alpha far below 1): all mass on one client.
  const one = rng.int(k);
  return Array.from({ length: k }, (_, i) => (i === one ? 1 : 0));
}

/** Integer counts summing to n, proportional to p (largest remainder). */
function apportion(p: number[], n: number): number[] {
  const raw = p.map((x) => x * n);
  const counts = raw.map(Math.floor);
  let left = n - counts.reduce((a, b) => a + b, 0);
  const byRemainder = raw
    .map((x, i) => [x - Math.floor(x), i])
    .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let j = 0; left > 0; j = (j + 1) % byRemainder.length, left--) counts[byRemainder[j][1]]++;
  return counts;
}

function dealDirichlet(
  patients: PatientGroup[],
  alpha: number,
  rng: Rng,
  out: PatientGroup[][],
): void {
  const order = rng.shuffle([...patients]);
  const counts = apportion(dirichlet(alpha, out.length, rng), order.length);
  let next = 0;
  counts.forEach((count, c) => {
    out[c].push(...order.slice(next, next + count));
    next += count;
  });
}

/** Moves one patient at a time from the client with the most patients to each empty client. */
function repairEmpty(out: PatientGroup[][]): void {
  for (let c = 0; c < out.length; c++) {
    if (out[c].length > 0) continue;
    let donor = 0;
    for (let d = 1; d < out.length; d++) if (out[d].length > out[donor].length) donor = d;
    out[c].push(out[donor].pop() as PatientGroup);
  }
}

/**
 * Splits records over clients by patient (no patient on two clients; every client gets at
 * least one patient). 'iid': per class, patients shuffled and dealt so image counts are near
 * equal. 'dirichlet': per class, a Dirichlet(alpha) draw over clients sets each client's share
 * of that class's patients (label skew and size skew, Hsu et al. 2019); an empty client then
 * takes one patient from the client with the most. Deterministic for a seed.
 */
export function partitionByPatient(
  records: readonly XrayRecord[],
  opts: PartitionOptions,
): XrayRecord[][] {
  const { clients, scheme, seed } = opts;
  const alpha = opts.alpha ?? DEFAULT_DIRICHLET_ALPHA;
  if (!Number.isInteger(clients) || clients < 1) {
    throw new RangeError(`clients must be a positive integer, got ${clients}`);
  }
  if (scheme === 'dirichlet' && !(alpha > 0 && Number.isFinite(alpha))) {
    throw new RangeError(`alpha must be a positive number, got ${alpha}`);
  }
  const byClass = patientsByClass(records);
  const patientCount = byClass[0].length + byClass[1].length;
  if (patientCount < clients) {
    throw new RangeError(`${patientCount} patient(s) cannot be spread over ${clients} clients`);
  }
  const rng = createRng(seed);
  const out: PatientGroup[][] = Array.from({ length: clients }, () => []);
  for (const patients of byClass) {
    const classRng = rng.fork();
    if (scheme === 'iid') dealBalanced(patients, clients, classRng, out);
    else if (scheme === 'dirichlet') dealDirichlet(patients, alpha, classRng, out);
    else throw new RangeError(`unknown partition scheme '${String(scheme)}'`);
  }
  repairEmpty(out);
  return out.map((groups) => sortRecords(groups.flatMap((g) => g.records)));
}
