import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset, SAMPLE_DATA_DIR, type XrayRecord } from '../../shared/data/index.ts';
import { runSimulation } from '../../shared/federated/simulation.ts';
import { TINY_PREPROCESSING, tinyModel, tinySettings, useTestBackend } from '../helpers/tiny.ts';

beforeAll(useTestBackend);

const patients = (records: readonly XrayRecord[]): Set<string> =>
  new Set(records.map((r) => r.patientId));

describe('runSimulation with calibration splits', () => {
  it('holds out part of each share by patient and never trains on it', async () => {
    const records = (await loadDataset(SAMPLE_DATA_DIR)).slice(0, 60);
    const model = tinyModel();
    const config = {
      clients: 2,
      rounds: 1,
      fraction: 1,
      maxDownloads: 1,
      partition: { scheme: 'iid' as const, alpha: 1 },
      local: tinySettings({ epochs: 1, batchSize: 16 }),
      preprocessing: TINY_PREPROCESSING,
      seed: 5,
    };
    const plain = await runSimulation(model, records, [], config);
    const held = await runSimulation(model, records, [], { ...config, calibrationFraction: 0.25 });
    expect(plain.calibration).toEqual([]);
    expect(held.calibration.map((c) => c.clientId)).toEqual(['hospital-1', 'hospital-2']);
    held.partitions.forEach((p, i) => {
      const calibration = held.calibration[i].records;
      expect(p.calibrationImages).toBe(calibration.length);
      expect(calibration.length).toBeGreaterThan(0);
      // The share is the same as without calibration; only its split changes.
      expect(p.images + calibration.length).toBe(plain.partitions[i].images);
      // Trained on: the reported numSamples, which exclude the held-out images.
      expect(held.rounds[0].clients[i].numSamples).toBe(p.images);
    });
    // No patient is on both sides anywhere: every held-out patient is absent from training.
    const heldPatients = held.calibration.flatMap((c) => [...patients(c.records)]);
    const trainedImages = held.partitions.reduce((s, p) => s + p.images, 0);
    expect(trainedImages + held.calibration.reduce((s, c) => s + c.records.length, 0)).toBe(
      records.length,
    );
    const all = records.filter((r) => !heldPatients.includes(r.patientId));
    expect(all.length).toBe(trainedImages);
    model.dispose();
  });
});
