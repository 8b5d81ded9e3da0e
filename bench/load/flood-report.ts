/**
 * The flood benchmark's report (diagnose-flood.ts): its fields, the failures that make the exit
 * code 1, and the Markdown table.
 */
import { MB, round } from './harness.ts';
import type { MemorySample, MemorySnapshot } from './flood-memory.ts';

/** Allowed over cap x upload bytes: the decoded images, parser buffers, allocator slack. */
export const SLACK_BYTES = 256 * MB;

export interface Report {
  benchmark: string;
  date: string;
  node: string;
  cpus: number;
  cpuModel: string;
  backend: string;
  gc: boolean;
  model: { source: string; architecture: string | undefined };
  settings: {
    connections: number;
    cap: number;
    uploadBytes: number;
    tailBytes: number;
    holdSeconds: number;
    requestTimeoutMs: number;
    sampleIntervalMs: number;
  };
  memory: { baseline: MemorySnapshot; peak: MemorySample; after: MemorySnapshot; samples: number };
  peakMinusBaselineMB: MemorySample;
  boundMB: number;
  allowedMB: number;
  flood: {
    sentSeconds: number;
    sendTimedOut: boolean;
    sendErrors: number;
    busy503: number;
    expectedBusy503: number;
    held: number;
    expectedHeld: number;
    closedWithoutAnswer: number;
    otherAnswers: Record<string, number>;
    busyAnswerMs: { p50: number; max: number } | null;
    inFlightWhileHeld: number;
    /** What the server had read of the held uploads at the end of the hold. */
    heldBytesReadMB: number;
    /** held x (upload - tail): all of it, when the server buffers what it is sent. */
    heldBytesSentMB: number;
  };
  afterFlood: {
    readyInFlight: number;
    diagnoseStatus: number | string;
    numTensorsBaseline: number;
    numTensorsAfter: number;
  };
  failures: string[];
}

export function failuresOf(report: Omit<Report, 'failures'>): string[] {
  const failures: string[] = [];
  const { afterFlood: after } = report;
  if (after.readyInFlight !== 0) {
    failures.push(`GET /ready inFlight is ${after.readyInFlight} after the flood, not 0`);
  }
  if (after.numTensorsAfter !== after.numTensorsBaseline) {
    failures.push(
      `tf.memory().numTensors went from ${after.numTensorsBaseline} to ${after.numTensorsAfter}`,
    );
  }
  if (after.diagnoseStatus !== 200) {
    failures.push(`POST /diagnose after the flood answered ${after.diagnoseStatus}, not 200`);
  }
  if (report.peakMinusBaselineMB.rssMB > report.allowedMB) {
    failures.push(
      `RSS peak - baseline is ${report.peakMinusBaselineMB.rssMB} MB, over the bound ` +
        `${report.boundMB} MB + ${SLACK_BYTES / MB} MB`,
    );
  }
  return failures;
}

export function markdown(r: Report): string {
  const m = r.memory;
  const other = Object.entries(r.flood.otherAnswers).map(([s, n]) => `${s}: ${n}`);
  if (r.flood.closedWithoutAnswer > 0) other.push(`closed: ${r.flood.closedWithoutAnswer}`);
  return [
    '| connections | cap | upload MiB | 503 busy | held | other | in flight held → after ' +
      '| RSS MB base → peak → after | RSS peak − base MB | bound MB | heap MB base → peak ' +
      '| external MB base → peak | numTensors | /diagnose after |',
    '|---:|---:|---:|---:|---:|---|---|---|---:|---:|---|---|---|---:|',
    `| ${r.settings.connections} | ${r.settings.cap} | ${round(r.settings.uploadBytes / MB, 2)} ` +
      `| ${r.flood.busy503}/${r.flood.expectedBusy503} | ${r.flood.held}/${r.flood.expectedHeld} ` +
      `| ${other.join(', ') || '-'} | ${r.flood.inFlightWhileHeld} → ${r.afterFlood.readyInFlight} ` +
      `| ${m.baseline.rssMB} → ${m.peak.rssMB} → ${m.after.rssMB} ` +
      `| ${r.peakMinusBaselineMB.rssMB} | ${r.boundMB} ` +
      `| ${m.baseline.heapUsedMB} → ${m.peak.heapUsedMB} ` +
      `| ${m.baseline.externalMB} → ${m.peak.externalMB} ` +
      `| ${m.baseline.numTensors} → ${m.after.numTensors} | ${r.afterFlood.diagnoseStatus} |`,
  ].join('\n');
}
