import type { FastifyBaseLogger } from 'fastify';
import {
  Prisma,
  type Hospital,
  type ModelVersion,
  type PrismaClient,
  type Round,
} from '../../../shared/db/index.ts';
import { encodeWeights, packWeights } from '../../../shared/weights/index.ts';
import type { NodeTrainRequest } from '../schemas/hospital-node.ts';
import type { RunClassWeights, RunSettings } from '../schemas/runs.ts';
import { STRATEGY_REJECTION, type AggregatorMetrics } from './aggregator-metrics.ts';
import { CANDIDATE_PREFIX, evaluateCandidate, type EvaluationGrants } from './evaluation.ts';
import type { HospitalClient } from './hospital-client.ts';
import type { ModelStore } from './model-store.ts';
import { aggregateRound } from './round-aggregation.ts';
import { commitRound } from './round-commit.ts';
import { failRound } from './round-failure.ts';
import { roundReport } from './round-report.ts';
import { restartRound } from './round-restart.ts';
import type { RoundSignals } from './round-signals.ts';
import { UpdateWait } from './round-wait.ts';
import { lockRunningRun, RunCancelledError } from './run-guard.ts';
import type { RunEvents } from './run-events.ts';
import { trainRequest } from './run-settings.ts';
import { roundClipNorm } from './run-privacy.ts';
import { runStrategy } from './run-strategy.ts';
import { selectHospitals } from './selection.ts';
import { moveRounds } from './states.ts';
import { updateMover } from './update-transition.ts';

export interface CoordinatorDeps {
  prisma: PrismaClient;
  store: ModelStore;
  events: RunEvents;
  client: HospitalClient;
  grants: EvaluationGrants;
  signals: RoundSignals;
  log: FastifyBaseLogger;
  /** How often the nodes are asked about their jobs while a round waits. */
  jobPollMs: number;
  /** Failed status checks in a row after which a node's part of the round fails. */
  maxMissedPolls: number;
  /** Updates the strategy leaves out are counted here (GET /metrics). */
  metrics?: Pick<AggregatorMetrics, 'updateRejected'>;
}

export type RoundOutcome = { ok: true; model: ModelVersion } | { ok: false; reason: string };

export interface RunRef {
  id: string;
}

/**
 * One round of a run, from its input model to its output model: select, dispatch, wait for
 * the updates or the deadline, aggregate, evaluate, and record the new model version together
 * with the completed round in one transaction.
 */
export class RoundRunner {
  /** Waits for the updates of this run's rounds (one per run: it counts missed job polls). */
  private readonly updates: UpdateWait;

  /**
   * @param signal the run's loop: aborted by a cancellation of the run or the aggregator
   *   shutting down.
   * @param dispatchSignal what aborts an in-flight `POST /train`: the shutdown only. A
   *   cancellation waits for the node's answer instead, so that the job it started is known
   *   and the node can be told to stop it.
   */
  constructor(
    private readonly deps: CoordinatorDeps,
    private readonly signal: AbortSignal,
    private readonly dispatchSignal: AbortSignal,
  ) {
    this.updates = new UpdateWait(deps, signal);
  }

  /** @param classWeights the run's (resolveClassWeights): sent to every node, in the metrics. */
  async run(
    run: RunRef,
    settings: RunSettings,
    classWeights: RunClassWeights,
    index: number,
    input: ModelVersion,
    existing: Round | null,
  ): Promise<RoundOutcome> {
    const { prisma, events } = this.deps;
    const number = index + 1;
    const attempt = existing ? await restartRound(this.deps, run, existing) : 1;

    const selection = await selectHospitals(
      this.deps,
      run,
      settings,
      number,
      attempt,
      input.id,
      this.signal,
      classWeights.basis ? new Set(Object.keys(classWeights.basis)) : undefined,
    );
    this.signal.throwIfAborted();
    if (!selection.ok) return failRound(this.deps, run, index, input, selection.reason);

    const { selected } = selection;
    const startedAt = new Date();
    const deadlineAt = new Date(startedAt.getTime() + settings.roundTimeoutSeconds * 1000);
    const fields = {
      status: 'dispatched' as const,
      selectedHospitalIds: selected.map((h) => h.id),
      deadlineAt,
      startedAt,
      finishedAt: null,
      metrics: Prisma.DbNull,
      failureReason: null,
      inputModelId: input.id,
      outputModelId: null,
    };
    const round = await prisma.$transaction(async (tx) => {
      // A run cancelled meanwhile gets no new round (the cancellation locks this row first).
      await lockRunningRun(tx, run.id, { currentRound: number });
      const row = await tx.round.upsert({
        where: { runId_index: { runId: run.id, index } },
        create: { runId: run.id, index, ...fields },
        update: fields,
      });
      for (const hospital of selected) {
        const fresh = {
          status: 'dispatched' as const,
          jobId: null,
          numSamples: null,
          metrics: Prisma.DbNull,
          sha256: null,
          sizeBytes: null,
          failureReason: null,
          durationMs: null,
        };
        await tx.clientUpdate.upsert({
          where: { roundId_hospitalId: { roundId: row.id, hospitalId: hospital.id } },
          create: { roundId: row.id, hospitalId: hospital.id, ...fresh },
          update: fresh,
        });
      }
      return row;
    });
    events.publish(run.id, 'round-started', {
      round: number,
      index,
      attempt,
      inputModelId: input.id,
      deadlineAt: deadlineAt.toISOString(),
      selected: selected.map((h) => ({ id: h.id, name: h.name })),
      excluded: selection.excluded,
    });

    const body = trainRequest(run.id, settings, number, attempt, input, classWeights.weights);
    await this.dispatch(run, round, selected, body);
    await this.updates.waitForUpdates(run, round, selected, deadlineAt.getTime());
    return this.finish(run, settings, classWeights, round, input);
  }

  private async dispatch(
    run: RunRef,
    round: Round,
    selected: readonly Hospital[],
    body: NodeTrainRequest,
  ): Promise<void> {
    const move = updateMover(this.deps, run, round);
    // Every dispatch is waited for, even once one has thrown or the run is cancelled: a
    // cancellation stops the nodes by the job ids recorded here once the loop has ended.
    const results = await Promise.allSettled(
      selected.map(async (hospital) => {
        try {
          // Not the run's signal: a cancellation must not lose the job id of a node that has
          // just started its job (it would train to the end). Bounded by the request timeout.
          const jobId = await this.deps.client.train(hospital, body, this.dispatchSignal);
          // The update may already be in (a fast node): then it set the job id itself. Also
          // recorded once the run is cancelled (the update is `failed` then).
          await this.deps.prisma.clientUpdate.updateMany({
            where: { roundId: round.id, hospitalId: hospital.id, jobId: null },
            data: { jobId },
          });
        } catch (error) {
          // Cancelled: the cancellation has already failed the update, with its own reason.
          // Shutting down: the round is run again at the next start.
          if (this.signal.aborted) return;
          await move(hospital, ['dispatched'], 'failed', {
            failureReason: `dispatch failed: ${(error as Error).message}`,
          });
        }
      }),
    );
    this.signal.throwIfAborted();
    for (const result of results) if (result.status === 'rejected') throw result.reason;
  }

  private async finish(
    run: RunRef,
    settings: RunSettings,
    classWeights: RunClassWeights,
    round: Round,
    input: ModelVersion,
  ): Promise<RoundOutcome> {
    const { prisma, store } = this.deps;
    const number = round.index + 1;
    const updates = await prisma.clientUpdate.findMany({
      where: { roundId: round.id },
      include: { hospital: true },
      orderBy: { hospital: { name: 'asc' } },
    });
    // Cancelled while it waited: nothing is aggregated.
    const count = await moveRounds(prisma, { id: round.id }, ['dispatched'], 'aggregating');
    if (count === 0) throw new RunCancelledError(run.id);
    const strategy = runStrategy(
      settings,
      await roundClipNorm(prisma, run.id, round.index, settings),
    );
    const move = updateMover(this.deps, run, round);
    const aggregation = await aggregateRound(
      {
        ...this.deps,
        reject: async (hospital, reason) => {
          await move(hospital, ['accepted'], 'rejected', { failureReason: reason });
          this.deps.metrics?.updateRejected(STRATEGY_REJECTION);
        },
      },
      { runId: run.id, round, input, settings, strategy, updates },
    );
    if (!aggregation.ok) return failRound(this.deps, run, round.index, input, aggregation.reason);
    const {
      weights: aggregated,
      accepted,
      contributions,
      updateNorms,
      strategyMetrics,
    } = aggregation;
    const { manifest, blob } = encodeWeights(aggregated);
    const stored = await store.putModel(packWeights(manifest, blob));
    this.signal.throwIfAborted();

    const evaluators = new Set(
      strategy.configureEvaluate(
        number,
        contributions.map((c) => ({ id: c.hospitalId, numSamples: c.numSamples })),
      ),
    );
    const evaluations = await evaluateCandidate(
      this.deps.client,
      this.deps.grants,
      settings,
      { id: `${CANDIDATE_PREFIX}${stored.sha256}`, ...stored },
      accepted.filter((u) => evaluators.has(u.hospitalId)).map((u) => u.hospital),
      this.signal,
    );
    const report = roundReport({
      round: number,
      settings,
      classWeights,
      strategy,
      contributions,
      evaluations,
      updateNorms,
      strategyMetrics,
    });
    const { roundMetrics } = report;
    this.signal.throwIfAborted();
    const model = await commitRound(
      prisma,
      { runId: run.id, roundId: round.id, round: number },
      stored,
      settings,
      report,
    );
    this.deps.events.publish(run.id, 'round-completed', {
      round: number,
      modelId: model.id,
      version: model.version,
      sha256: model.sha256,
      metrics: roundMetrics,
    });
    return { ok: true, model };
  }
}
