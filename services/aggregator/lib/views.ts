// Database rows as the API shows them (dates as ISO strings, no secrets).
import type {
  ClientUpdate,
  Hospital,
  ModelVersion,
  ReaderToken,
  Round,
  TrainingRun,
} from '../../../shared/db/index.ts';
import type { HospitalView } from '../schemas/hospitals.ts';
import type { ModelMetadata, ModelView } from '../schemas/models.ts';
import type { ReaderView } from '../schemas/readers.ts';
import type { RoundView, RunDetail, RunSummary } from '../schemas/runs.ts';
import { classWeightsView, storedFederationWeights } from './class-weights.ts';
import { runPrivacyView } from './run-privacy.ts';
import { previousTokenExpiry } from './rotating-token.ts';
import { parseRunSettings } from './run-settings.ts';

const iso = (date: Date | null): string | null => (date ? date.toISOString() : null);

/**
 * A hospital as the API shows it, without any token or hash. `now` (ms): a previous token
 * past its expiry shows as none.
 */
export function hospitalView(h: Hospital, now: number): HospitalView {
  return {
    id: h.id,
    name: h.name,
    baseUrl: h.baseUrl,
    status: h.status,
    lastSeenAt: iso(h.lastSeenAt),
    sampleCount: h.sampleCount,
    createdAt: h.createdAt.toISOString(),
    tokenRotatedAt: h.tokenRotatedAt.toISOString(),
    previousTokenExpiresAt: previousTokenExpiry(h, now),
  };
}

/**
 * A reader token as the API shows it, without the token or its hash. `now` (ms): a previous
 * token past its expiry shows as none.
 */
export function readerView(r: ReaderToken, now: number): ReaderView {
  return {
    id: r.id,
    name: r.name,
    createdAt: r.createdAt.toISOString(),
    tokenRotatedAt: r.tokenRotatedAt.toISOString(),
    previousTokenExpiresAt: previousTokenExpiry(r, now),
    revokedAt: iso(r.revokedAt),
  };
}

export function runSummary(run: TrainingRun): RunSummary {
  return {
    id: run.id,
    status: run.status,
    settings: parseRunSettings(run.settings),
    currentRound: run.currentRound,
    failureReason: run.failureReason,
    promotionRefusedReason: run.promotionRefusedReason,
    cancellation: run.cancelledAt
      ? {
          at: run.cancelledAt.toISOString(),
          by: run.cancelledBy ?? 'admin',
          reason: run.cancelReason,
        }
      : null,
    createdAt: run.createdAt.toISOString(),
    startedAt: iso(run.startedAt),
    finishedAt: iso(run.finishedAt),
  };
}

type RoundWithUpdates = Round & { clientUpdates: (ClientUpdate & { hospital: Hospital })[] };

export function roundView(round: RoundWithUpdates): RoundView {
  return {
    index: round.index,
    round: round.index + 1,
    status: round.status,
    selectedHospitalIds: round.selectedHospitalIds,
    deadlineAt: iso(round.deadlineAt),
    startedAt: iso(round.startedAt),
    finishedAt: iso(round.finishedAt),
    durationMs:
      round.startedAt && round.finishedAt
        ? round.finishedAt.getTime() - round.startedAt.getTime()
        : null,
    metrics: round.metrics,
    failureReason: round.failureReason,
    inputModelId: round.inputModelId,
    outputModelId: round.outputModelId,
    updates: round.clientUpdates.map((u) => ({
      hospitalId: u.hospitalId,
      hospitalName: u.hospital.name,
      status: u.status,
      failureReason: u.failureReason,
      numSamples: u.numSamples,
      durationMs: u.durationMs,
      metrics: u.metrics,
      jobId: u.jobId,
      sha256: u.sha256,
      sizeBytes: u.sizeBytes,
      updatedAt: u.updatedAt.toISOString(),
    })),
  };
}

export function runDetail(run: TrainingRun, rounds: RoundWithUpdates[]): RunDetail {
  const last = rounds.at(-1);
  const summary = runSummary(run);
  return {
    ...summary,
    classWeights: classWeightsView(summary.settings, storedFederationWeights(run.settings)),
    finalModelId:
      run.status === 'completed' && last?.status === 'completed' ? last.outputModelId : null,
    privacy: runPrivacyView(
      summary.settings,
      rounds.filter((r) => r.status === 'completed').length,
      run.status,
    ),
    rounds: rounds.map(roundView),
  };
}

export function modelView(m: ModelVersion): ModelView {
  const metadata = (m.metadata ?? {}) as ModelMetadata;
  return {
    id: m.id,
    version: m.version,
    runId: m.runId,
    roundIndex: m.roundIndex,
    sha256: m.sha256,
    sizeBytes: m.sizeBytes,
    architecture: m.architecture,
    inputSize: m.inputSize,
    width: typeof metadata.width === 'number' ? metadata.width : null,
    stage: m.stage,
    metadata,
    metrics: m.metrics,
    createdAt: m.createdAt.toISOString(),
  };
}
