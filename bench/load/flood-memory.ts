/**
 * Memory of the flood benchmark's process (diagnose-flood.ts): process.memoryUsage() in MB,
 * snapshots after gc with tf's tensor count, and the peak of each figure sampled during a flood.
 */
import { gc, MB, round, sleep } from './harness.ts';

export const SAMPLE_INTERVAL_MS = 200;

/** process.memoryUsage() in MB (arrayBuffers is part of external). */
export interface MemorySample {
  rssMB: number;
  heapUsedMB: number;
  externalMB: number;
  arrayBuffersMB: number;
}

export interface MemorySnapshot extends MemorySample {
  numTensors: number;
}

function memorySample(): MemorySample {
  const m = process.memoryUsage();
  return {
    rssMB: round(m.rss / MB),
    heapUsedMB: round(m.heapUsed / MB),
    externalMB: round(m.external / MB),
    arrayBuffersMB: round(m.arrayBuffers / MB),
  };
}

export async function snapshot(numTensors: () => number): Promise<MemorySnapshot> {
  gc?.();
  await sleep(200); // let freed buffers' finalizers run
  gc?.();
  return { ...memorySample(), numTensors: numTensors() };
}

/** Samples memory every SAMPLE_INTERVAL_MS; `stop` gives the peak of each figure. */
export function startSampler(): { stop: () => { peak: MemorySample; samples: number } } {
  let peak = memorySample();
  let samples = 1;
  const take = (): void => {
    const s = memorySample();
    samples++;
    peak = {
      rssMB: Math.max(peak.rssMB, s.rssMB),
      heapUsedMB: Math.max(peak.heapUsedMB, s.heapUsedMB),
      externalMB: Math.max(peak.externalMB, s.externalMB),
      arrayBuffersMB: Math.max(peak.arrayBuffersMB, s.arrayBuffersMB),
    };
  };
  const timer = setInterval(take, SAMPLE_INTERVAL_MS);
  return {
    stop: () => {
      clearInterval(timer);
      take();
      return { peak, samples };
    },
  };
}

export function memoryDelta(peak: MemorySample, baseline: MemorySample): MemorySample {
  return {
    rssMB: round(peak.rssMB - baseline.rssMB),
    heapUsedMB: round(peak.heapUsedMB - baseline.heapUsedMB),
    externalMB: round(peak.externalMB - baseline.externalMB),
    arrayBuffersMB: round(peak.arrayBuffersMB - baseline.arrayBuffersMB),
  };
}
