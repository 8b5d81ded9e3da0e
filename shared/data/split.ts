/** Train/validation split by patient, stratified by patient label. */
import { createRng } from '../util/random.ts';
import { sortRecords, type XrayRecord } from './dataset.ts';
import { countImages, patientsByClass, type PatientGroup } from './patients.ts';

export interface SplitOptions {
  /** Fraction of each class's images to put in val, in [0, 1]. */
  valFraction: number;
  seed: number;
}

export interface TrainValSplit {
  train: XrayRecord[];
  val: XrayRecord[];
}

/**
 * Splits so that no patient is on both sides. Within each class (a patient with any
 * PNEUMONIA image is a PNEUMONIA patient) the patients are shuffled and taken into val while
 * that brings val's image count closer to valFraction of the class's images, so val's class
 * ratio follows the overall one. Deterministic for a seed.
 */
export function splitByPatient(records: readonly XrayRecord[], opts: SplitOptions): TrainValSplit {
  const { valFraction, seed } = opts;
  if (!(valFraction >= 0 && valFraction <= 1)) {
    throw new RangeError(`valFraction must be in [0, 1], got ${valFraction}`);
  }
  const rng = createRng(seed);
  const train: XrayRecord[] = [];
  const val: XrayRecord[] = [];
  for (const patients of patientsByClass(records)) {
    // One fork per class, always taken, so each class's draw does not depend on the other's size.
    const classRng = rng.fork();
    const order: PatientGroup[] = classRng.shuffle([...patients]);
    const target = valFraction * countImages(order);
    const toVal: PatientGroup[] = [];
    const toTrain: PatientGroup[] = [];
    let inVal = 0;
    for (const g of order) {
      const n = g.records.length;
      if (Math.abs(inVal + n - target) < Math.abs(inVal - target)) {
        toVal.push(g);
        inVal += n;
      } else {
        toTrain.push(g);
      }
    }
    // A small fraction of a small class could round to no patient: keep the class in val.
    if (toVal.length === 0 && valFraction > 0 && toTrain.length >= 2) {
      toVal.push(toTrain.shift() as PatientGroup);
    }
    for (const g of toVal) val.push(...g.records);
    for (const g of toTrain) train.push(...g.records);
  }
  return { train: sortRecords(train), val: sortRecords(val) };
}
