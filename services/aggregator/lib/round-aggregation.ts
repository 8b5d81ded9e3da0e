/**
 * The aggregation step of a round: the accepted updates read back (sha256-checked), the run's
 * strategy's aggregateFit over them, the updates it left out recorded as rejected (audited),
 * and the minHospitals check on what remains.
 */
import type {
  ClientUpdate,
  Hospital,
  ModelVersion,
  PrismaClient,
  Round,
} from '../../../shared/db/index.ts';
import type {
  ClientResult,
  FitAggregate,
  Rejection,
  Strategy,
} from '../../../shared/federated/strategy.ts';
import type { UpdateNormEntry } from '../../../shared/federated/update-norm-screen.ts';
import { AggregationRefused } from '../../../shared/federated/strategy-utils.ts';
import type { NamedWeights, WeightsFile } from '../../../shared/weights/index.ts';
import type { FastifyBaseLogger } from 'fastify';
import type { RunSettings } from '../schemas/runs.ts';
import { parseUpdateMetrics } from '../../../shared/protocol/stored-metrics.ts';
import type { AcceptedUpdate } from './aggregation.ts';
import { audit } from './audit.ts';
import type { ModelStore } from './model-store.ts';
import type { UpdateNormRecord } from './round-report.ts';

export interface AggregationDeps {
  prisma: PrismaClient;
  store: ModelStore;
  log: FastifyBaseLogger;
  /** Moves a hospital's accepted update to rejected (and announces it). */
  reject(hospital: Hospital, reason: string): Promise<void>;
}

type RoundUpdate = ClientUpdate & { hospital: Hospital };

export type AggregationOutcome =
  | {
      ok: true;
      weights: NamedWeights[];
      accepted: RoundUpdate[];
      contributions: AcceptedUpdate[];
      updateNorms: UpdateNormRecord[];
      /** The strategy's own figures of the round (Krum's scores, ...), updateNorms aside. */
      strategyMetrics: Record<string, unknown>;
    }
  | { ok: false; reason: string };

export async function aggregateRound(
  deps: AggregationDeps,
  ctx: {
    runId: string;
    round: Round;
    input: ModelVersion;
    settings: RunSettings;
    strategy: Strategy;
    /** Every update of the round, with its hospital, in hospital-name order. */
    updates: readonly RoundUpdate[];
  },
): Promise<AggregationOutcome> {
  const { runId, round, input, settings, strategy, updates } = ctx;
  const reference = await deps.store.readWeights(input.storagePath, input.sha256);
  const received = updates.filter((u) => u.status === 'accepted');
  const files = await openUpdates(deps, runId, round, received);
  let aggregate: FitAggregate;
  try {
    aggregate = await strategy.aggregateFit(
      {
        round: round.index + 1,
        current: reference,
        previousInput: () => previousInput(deps, runId, round, input),
      },
      files.map(({ result }) => result),
    );
  } catch (error) {
    if (!(error instanceof AggregationRefused)) throw error;
    return { ok: false, reason: `${strategy.name} refused the round: ${error.message}` };
  } finally {
    await Promise.all(files.map(({ file }) => file.close()));
  }
  const rejected = await recordRejections(deps, runId, round, received, aggregate.rejected);
  const accepted = received.filter((u) => !rejected.has(u.hospitalId));
  if (accepted.length < settings.minHospitals || !aggregate.weights) {
    const statuses = updates
      .map((u) => {
        const rejection = rejected.get(u.hospitalId);
        const status = rejection ? 'rejected' : u.status;
        const reason = rejection ?? u.failureReason;
        return `${u.hospital.name}: ${status}${reason ? ` (${reason})` : ''}`;
      })
      .join('; ');
    return {
      ok: false,
      reason:
        `${accepted.length} accepted update(s), fewer than minHospitals = ${settings.minHospitals}` +
        (statuses ? ` [${statuses}]` : ''),
    };
  }
  const names = new Map(updates.map((u) => [u.hospitalId, u.hospital.name]));
  const { updateNorms, ...strategyMetrics } = aggregate.metrics;
  const norms = (updateNorms ?? []) as UpdateNormEntry[];
  return {
    ok: true,
    weights: aggregate.weights,
    accepted,
    contributions: accepted.map((u) => ({
      hospitalId: u.hospitalId,
      numSamples: u.numSamples ?? 0,
      metrics: parseUpdateMetrics(u.metrics),
    })),
    updateNorms: norms.map((n) => ({
      hospitalId: n.clientId,
      hospital: names.get(n.clientId) ?? n.clientId,
      norm: n.norm,
      rejected: n.rejected,
    })),
    strategyMetrics,
  };
}

/**
 * FedAvgM's w_{t-2}: the input model of the run's previous round, whose output is this
 * round's input. The server velocity is rebuilt from it, so it survives a restart with no
 * state of its own. Undefined (velocity 0) in the first round, or when that round's input is
 * gone or its output is not this round's input.
 */
async function previousInput(
  deps: AggregationDeps,
  runId: string,
  round: Round,
  input: ModelVersion,
): Promise<NamedWeights[] | undefined> {
  if (round.index === 0) return undefined;
  const previous = await deps.prisma.round.findUnique({
    where: { runId_index: { runId: runId, index: round.index - 1 } },
    include: { inputModel: true },
  });
  if (!previous?.inputModel || previous.outputModelId !== input.id) {
    deps.log.warn(
      { runId: runId, round: round.index + 1 },
      "fedavgm: the previous round's input model is not available; the server velocity restarts at 0",
    );
    return undefined;
  }
  const { storagePath, sha256 } = previous.inputModel;
  return deps.store.readWeights(storagePath, sha256);
}

/**
 * Each accepted update's file, opened and checked against its sha256, as a result the strategy
 * reads tensor by tensor (so the round never holds every update in memory).
 */
async function openUpdates(
  deps: AggregationDeps,
  runId: string,
  round: Round,
  accepted: readonly { hospitalId: string; sha256: string | null; numSamples: number | null }[],
): Promise<{ result: ClientResult; file: WeightsFile }[]> {
  const { store } = deps;
  const opened: { result: ClientResult; file: WeightsFile }[] = [];
  try {
    for (const update of accepted) {
      const file = await store.openWeights(
        store.updatePath(runId, round.index, update.hospitalId),
        update.sha256 ?? '',
      );
      const result = {
        clientId: update.hospitalId,
        numSamples: update.numSamples ?? 0,
        weights: file,
      };
      opened.push({ result, file });
    }
  } catch (error) {
    await Promise.all(opened.map(({ file }) => file.close()));
    throw error;
  }
  return opened;
}

/**
 * The updates the strategy left out (e.g. the update-norm screen's outliers): each one's
 * ClientUpdate becomes `rejected` with the reason, audited and logged.
 */
async function recordRejections(
  deps: AggregationDeps,
  runId: string,
  round: Round,
  accepted: readonly { hospitalId: string; hospital: Hospital }[],
  rejections: readonly Rejection[],
): Promise<Map<string, string>> {
  const rejected = new Map<string, string>();
  for (const rejection of rejections) {
    const update = accepted.find((u) => u.hospitalId === rejection.clientId);
    if (!update) continue;
    rejected.set(rejection.clientId, rejection.reason);
    await deps.reject(update.hospital, rejection.reason);
    await audit(deps.prisma, {
      actor: 'system',
      action: 'update.rejected',
      subjectType: 'round',
      subjectId: round.id,
      details: {
        runId: runId,
        round: round.index + 1,
        hospitalId: rejection.clientId,
        ...rejection.details,
        reason: rejection.reason,
      },
    });
    deps.log.warn(
      {
        runId: runId,
        round: round.index + 1,
        hospitalId: rejection.clientId,
        reason: rejection.reason,
      },
      'update rejected by the strategy',
    );
  }
  return rejected;
}
