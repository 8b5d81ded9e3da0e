/**
 * Per-round checkpoints of an in-process federation, so a run of many hours survives the end
 * of a session or a crash: after each round the global model (float32, exact) and the round
 * reports go to one directory, written atomically; a rerun with the same configuration
 * continues after the last completed round and gives the same result as an uninterrupted run.
 */
import { createHash } from 'node:crypto';
import { loadWeightsWithManifest, saveWeights } from '../weights/index.ts';
import type { WeightArray } from '../model/model-weights.ts';
import type { RoundReport } from './simulation.ts';

export interface SimulationCheckpoint {
  /** The last completed round. */
  round: number;
  /** The global model after that round. */
  global: WeightArray[];
  reports: RoundReport[];
}

export interface CheckpointStore {
  load(): Promise<SimulationCheckpoint | undefined>;
  save(checkpoint: SimulationCheckpoint): Promise<void>;
}

const CHECKPOINT_KIND = 'fedxray-simulation-checkpoint';

/** A stable digest of what determines a run, so a checkpoint is never resumed by another run. */
export function fingerprint(config: unknown): string {
  return createHash('sha256').update(stableJson(config)).digest('hex').slice(0, 16);
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export class CheckpointMismatchError extends Error {
  constructor(dir: string, found: string, expected: string) {
    super(
      `checkpoint in ${dir} belongs to another run configuration (${found}, this run ${expected}); ` +
        'remove it or use another --checkpoint directory',
    );
    this.name = 'CheckpointMismatchError';
  }
}

/** A checkpoint directory on disk (weights.bin + weights.json with the state in its meta). */
export function directoryCheckpoint(dir: string, runFingerprint: string): CheckpointStore {
  return {
    async load() {
      let loaded;
      try {
        loaded = await loadWeightsWithManifest(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
      const meta = loaded.manifest.meta ?? {};
      if (meta.kind !== CHECKPOINT_KIND || typeof meta.round !== 'number')
        throw new Error(`${dir} holds weights that are not a simulation checkpoint`);
      if (meta.fingerprint !== runFingerprint)
        throw new CheckpointMismatchError(dir, String(meta.fingerprint), runFingerprint);
      return {
        round: meta.round,
        global: loaded.weights.map((w) => ({ name: w.name, shape: [...w.shape], data: w.data })),
        reports: meta.reports as RoundReport[],
      };
    },
    async save(checkpoint) {
      await saveWeights(dir, checkpoint.global, {
        dtype: 'float32',
        meta: {
          kind: CHECKPOINT_KIND,
          fingerprint: runFingerprint,
          round: checkpoint.round,
          reports: checkpoint.reports,
        },
      });
    },
  };
}
