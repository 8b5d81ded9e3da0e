import type { FastifyBaseLogger } from 'fastify';
import {
  Prisma,
  type ClientUpdateStatus,
  type Hospital,
  type ModelVersion,
  type PrismaClient,
  type Round,
} from '../../../shared/db/index.ts';
import type { ClientResult, Rejection } from '../../../shared/federated/strategy.ts';
import type { UpdateNormEntry } from '../../../shared/federated/update-norm-screen.ts';
import { encodeWeights, packWeights, type NamedWeights } from '../../../shared/weights/index.ts';
import type { Evaluation, NodeJob, NodeTrainRequest } from '../schemas/hospital-node.ts';
import type { RunClassWeights, RunSettings } from '../schemas/runs.ts';
import { trainSummary, validationSummary } from './aggregation.ts';
import { audit } from './audit.ts';
import { calibrateThreshold, pooledMetrics } from './calibration.ts';
import { CANDIDATE_PREFIX, evaluateCandidate, type EvaluationGrants } from './evaluation.ts';
import { HospitalCallError, type HospitalClient } from './hospital-client.ts';
import type { ModelStore } from './model-store.ts';
import { findOrCreateModelVersion } from './model-versions.ts';
import type { RoundSignals } from './round-signals.ts';
import { lockRunningRun, RunCancelledError } from './run-guard.ts';
import type { RunEvents } from './run-events.ts';
import { trainRequest } from './run-settings.ts';
import { runStrategy } from './run-strategy.ts';
import { selectHospitals } from './selection.ts';
import { moveRounds, moveUpdates, OPEN_UPDATE_STATUSES } from './states.ts';

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
}

/** Updates still expected to change; the rest are final for the round (states.ts). */
export const OPEN_STATUSES = OPEN_UPDATE_STATUSES;

export type RoundOutcome = { ok: true; model: ModelVersion } | { ok: false; reason: string };

interface RunRef {
  id: string;
}

/**
 * One round of a run, from its input model to its output model: select, dispatch, wait for
 * the updates or the deadline, aggregate, evaluate, and record the new model version together
 * with the completed round in one transaction.
 */
export class RoundRunner {
  /** Failed job-status checks in a row, by round and hospital. */
  private readonly missedPolls = new Map<string, number>();

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
  ) {}

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
    const attempt = existing ? await this.restart(run, existing) : 1;

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
    if (!selection.ok) return this.fail(run, index, input, selection.reason);

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
    await this.waitForUpdates(run, round, selected, deadlineAt.getTime());
    return this.finish(run, settings, classWeights, round, input);
  }

  /** A round cut short by a restart is run again: its open updates are void. */
  private async restart(run: RunRef, round: Round): Promise<number> {
    const { prisma } = this.deps;
    const voided = await prisma.clientUpdate.findMany({
      where: { roundId: round.id, status: { in: [...OPEN_STATUSES, 'accepted'] } },
      include: { hospital: true },
    });
    await moveUpdates(
      prisma,
      { id: { in: voided.map((u) => u.id) } },
      [...OPEN_STATUSES, 'accepted'],
      'failed',
      { failureReason: 'aggregator restarted' },
    );
    const earlier = await prisma.auditEvent.count({
      where: { action: 'round.restarted', subjectType: 'round', subjectId: round.id },
    });
    const attempt = earlier + 2;
    await audit(prisma, {
      actor: 'system',
      action: 'round.restarted',
      subjectType: 'round',
      subjectId: round.id,
      details: {
        runId: run.id,
        round: round.index + 1,
        attempt,
        previousStatus: round.status,
        voided: voided.map((u) => ({ hospitalId: u.hospitalId, status: u.status })),
      },
    });
    for (const update of voided) {
      this.publishUpdate(
        run.id,
        round.index + 1,
        update.hospital,
        'failed',
        'aggregator restarted',
      );
    }
    this.deps.log.info({ runId: run.id, round: round.index + 1, attempt }, 'round restarted');
    return attempt;
  }

  private async dispatch(
    run: RunRef,
    round: Round,
    selected: readonly Hospital[],
    body: NodeTrainRequest,
  ): Promise<void> {
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
          await this.transition(run, round, hospital, ['dispatched'], 'failed', {
            failureReason: `dispatch failed: ${(error as Error).message}`,
          });
        }
      }),
    );
    this.signal.throwIfAborted();
    for (const result of results) if (result.status === 'rejected') throw result.reason;
  }

  private async waitForUpdates(
    run: RunRef,
    round: Round,
    selected: readonly Hospital[],
    deadline: number,
  ): Promise<void> {
    const { prisma, signals, jobPollMs } = this.deps;
    const byId = new Map(selected.map((h) => [h.id, h]));
    let lastPoll = Date.now();
    for (;;) {
      this.signal.throwIfAborted();
      const open = await prisma.clientUpdate.findMany({
        where: { roundId: round.id, status: { in: [...OPEN_STATUSES] } },
      });
      if (open.length === 0) return;
      const now = Date.now();
      if (now >= deadline) {
        for (const update of open) {
          const hospital = byId.get(update.hospitalId);
          if (!hospital) continue;
          await this.transition(run, round, hospital, OPEN_STATUSES, 'timed_out', {
            failureReason: `no update before the deadline (${new Date(deadline).toISOString()})`,
          });
        }
        return;
      }
      if (now - lastPoll >= jobPollMs) {
        lastPoll = now;
        await this.pollJobs(run, round, open, byId);
      }
      await signals.wait(round.id, Math.min(jobPollMs, deadline - now), this.signal);
    }
  }

  /** Asks the nodes how their jobs go: a failed job ends the hospital's part of the round. */
  private async pollJobs(
    run: RunRef,
    round: Round,
    open: readonly { hospitalId: string; jobId: string | null; status: ClientUpdateStatus }[],
    byId: ReadonlyMap<string, Hospital>,
  ): Promise<void> {
    await Promise.all(
      open.map(async (update) => {
        const hospital = byId.get(update.hospitalId);
        if (!hospital || update.jobId === null || update.status === 'received') return;
        let job: NodeJob;
        try {
          job = await this.deps.client.job(hospital, update.jobId, this.signal);
        } catch (error) {
          if (this.signal.aborted) throw this.signal.reason;
          if (error instanceof HospitalCallError && error.status === 404) {
            await this.transition(run, round, hospital, ['dispatched', 'training'], 'failed', {
              failureReason: `the node no longer knows its job ${update.jobId} (restarted?)`,
            });
            return;
          }
          // A node down for a moment is waited for; one that stays silent is given up on
          // rather than holding the round until its deadline.
          const key = `${round.id}:${hospital.id}`;
          const misses = (this.missedPolls.get(key) ?? 0) + 1;
          this.missedPolls.set(key, misses);
          if (misses >= this.deps.maxMissedPolls) {
            await this.transition(run, round, hospital, ['dispatched', 'training'], 'failed', {
              failureReason: `the node stopped answering: ${misses} status checks in a row failed (last: ${(error as Error).message})`,
            });
          }
          return;
        }
        this.missedPolls.delete(`${round.id}:${hospital.id}`);
        if (job.status === 'failed') {
          await this.transition(run, round, hospital, ['dispatched', 'training'], 'failed', {
            failureReason: `the hospital's training job failed: ${job.error ?? 'no reason given'}`,
          });
        } else if (['downloading', 'training', 'uploading'].includes(job.status)) {
          await this.transition(run, round, hospital, ['dispatched'], 'training', {});
        }
      }),
    );
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
    const reference = await store.readWeights(input.storagePath, input.sha256);
    const received = updates.filter((u) => u.status === 'accepted');
    const strategy = runStrategy(settings);
    const aggregate = await strategy.aggregateFit(
      {
        round: number,
        current: reference,
        previousInput: () => this.previousInput(run, round, input),
      },
      await this.readUpdates(run, round, received),
    );
    const rejected = await this.recordRejections(run, round, received, aggregate.rejected);
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
      return this.fail(
        run,
        round.index,
        input,
        `${accepted.length} accepted update(s), fewer than minHospitals = ${settings.minHospitals}` +
          (statuses ? ` [${statuses}]` : ''),
      );
    }
    const aggregated = aggregate.weights;
    const contributions = accepted.map((u) => ({
      hospitalId: u.hospitalId,
      numSamples: u.numSamples ?? 0,
      metrics: u.metrics,
    }));
    const names = new Map(updates.map((u) => [u.hospitalId, u.hospital.name]));
    const updateNorms = ((aggregate.metrics.updateNorms ?? []) as UpdateNormEntry[]).map((n) => ({
      hospitalId: n.clientId,
      hospital: names.get(n.clientId) ?? n.clientId,
      norm: n.norm,
      rejected: n.rejected,
    }));
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
    const train = trainSummary(contributions);
    const calibration = calibrateThreshold(settings.thresholdRule, evaluations);
    const { threshold } = calibration;
    const validation = validationSummary(
      evaluations.flatMap((e) => (e.evaluation ? [e.evaluation] : [])),
      calibration.pooled &&
        pooledMetrics(calibration.pooled, threshold.threshold, calibration.hospitals),
      (results) => strategy.aggregateEvaluate(number, results),
    );
    const evaluationFailures = evaluations.flatMap((e) =>
      e.error ? [{ hospitalId: e.hospitalId, hospital: e.hospitalName, error: e.error }] : [],
    );
    const modelMetrics = toJson({ train, validation, evaluationFailures });
    const roundMetrics = toJson({
      strategy: settings.strategy,
      classWeights,
      train,
      validation,
      evaluationFailures,
      threshold,
      updateNorms,
      hospitals: evaluations.map((e) => ({
        hospitalId: e.hospitalId,
        hospital: e.hospitalName,
        numSamples: contributions.find((c) => c.hospitalId === e.hospitalId)?.numSamples ?? 0,
        share:
          (contributions.find((c) => c.hospitalId === e.hospitalId)?.numSamples ?? 0) /
          train.numSamples,
        // Each hospital's histogram stays out of what GET /rounds/{id} shows; only the pool is used.
        validation: e.evaluation ? withoutHistogram(e.evaluation) : null,
      })),
    });
    this.signal.throwIfAborted();

    const model = await prisma.$transaction(async (tx) => {
      const version = await findOrCreateModelVersion(tx, {
        runId: run.id,
        roundIndex: number,
        ...stored,
        settings,
        threshold,
        metrics: modelMetrics,
      });
      // A round cancelled while it was aggregated makes no version: this rolls it back.
      const completed = await moveRounds(tx, { id: round.id }, ['aggregating'], 'completed', {
        finishedAt: new Date(),
        outputModelId: version.id,
        metrics: roundMetrics,
      });
      if (completed === 0) throw new RunCancelledError(run.id);
      await audit(tx, {
        actor: 'system',
        action: 'round.completed',
        subjectType: 'round',
        subjectId: round.id,
        details: { runId: run.id, round: number, modelId: version.id, version: version.version },
      });
      return version;
    });
    this.deps.events.publish(run.id, 'round-completed', {
      round: number,
      modelId: model.id,
      version: model.version,
      sha256: model.sha256,
      metrics: roundMetrics,
    });
    return { ok: true, model };
  }

  /**
   * FedAvgM's w_{t-2}: the input model of the run's previous round, whose output is this
   * round's input. The server velocity is rebuilt from it, so it survives a restart with no
   * state of its own. Undefined (velocity 0) in the first round, or when that round's input is
   * gone or its output is not this round's input.
   */
  private async previousInput(
    run: RunRef,
    round: Round,
    input: ModelVersion,
  ): Promise<NamedWeights[] | undefined> {
    if (round.index === 0) return undefined;
    const previous = await this.deps.prisma.round.findUnique({
      where: { runId_index: { runId: run.id, index: round.index - 1 } },
      include: { inputModel: true },
    });
    if (!previous?.inputModel || previous.outputModelId !== input.id) {
      this.deps.log.warn(
        { runId: run.id, round: round.index + 1 },
        "fedavgm: the previous round's input model is not available; the server velocity restarts at 0",
      );
      return undefined;
    }
    const { storagePath, sha256 } = previous.inputModel;
    return this.deps.store.readWeights(storagePath, sha256);
  }

  /** Each accepted update's weights, read from the store and checked against its sha256. */
  private async readUpdates(
    run: RunRef,
    round: Round,
    accepted: readonly { hospitalId: string; sha256: string | null; numSamples: number | null }[],
  ): Promise<ClientResult[]> {
    const { store } = this.deps;
    const results: ClientResult[] = [];
    for (const update of accepted) {
      results.push({
        clientId: update.hospitalId,
        numSamples: update.numSamples ?? 0,
        weights: await store.readWeights(
          store.updatePath(run.id, round.index, update.hospitalId),
          update.sha256 ?? '',
        ),
      });
    }
    return results;
  }

  /**
   * The updates the strategy left out (e.g. the update-norm screen's outliers): each one's
   * ClientUpdate becomes `rejected` with the reason, audited and logged.
   */
  private async recordRejections(
    run: RunRef,
    round: Round,
    accepted: readonly { hospitalId: string; hospital: Hospital }[],
    rejections: readonly Rejection[],
  ): Promise<Map<string, string>> {
    const rejected = new Map<string, string>();
    for (const rejection of rejections) {
      const update = accepted.find((u) => u.hospitalId === rejection.clientId);
      if (!update) continue;
      rejected.set(rejection.clientId, rejection.reason);
      await this.transition(run, round, update.hospital, ['accepted'], 'rejected', {
        failureReason: rejection.reason,
      });
      await audit(this.deps.prisma, {
        actor: 'system',
        action: 'update.rejected',
        subjectType: 'round',
        subjectId: round.id,
        details: {
          runId: run.id,
          round: round.index + 1,
          hospitalId: rejection.clientId,
          ...rejection.details,
          reason: rejection.reason,
        },
      });
      this.deps.log.warn(
        {
          runId: run.id,
          round: round.index + 1,
          hospitalId: rejection.clientId,
          reason: rejection.reason,
        },
        'update rejected by the strategy',
      );
    }
    return rejected;
  }

  private async fail(
    run: RunRef,
    index: number,
    input: ModelVersion,
    reason: string,
  ): Promise<RoundOutcome> {
    const fields = { status: 'failed' as const, failureReason: reason, finishedAt: new Date() };
    await this.deps.prisma.$transaction(async (tx) => {
      // A cancelled run's round stays cancelled.
      await lockRunningRun(tx, run.id);
      await tx.round.upsert({
        where: { runId_index: { runId: run.id, index } },
        create: {
          runId: run.id,
          index,
          inputModelId: input.id,
          startedAt: fields.finishedAt,
          ...fields,
        },
        update: fields,
      });
    });
    this.deps.events.publish(run.id, 'round-failed', { round: index + 1, reason });
    return { ok: false, reason: `round ${index + 1} failed: ${reason}` };
  }

  /** Moves a hospital's update from one of `from` to `to`; a no-op when it has moved on. */
  private async transition(
    run: RunRef,
    round: Round,
    hospital: Hospital,
    from: readonly ClientUpdateStatus[],
    to: ClientUpdateStatus,
    data: { failureReason?: string },
  ): Promise<void> {
    const count = await moveUpdates(
      this.deps.prisma,
      { roundId: round.id, hospitalId: hospital.id },
      from,
      to,
      data,
    );
    if (count > 0) {
      this.publishUpdate(run.id, round.index + 1, hospital, to, data.failureReason ?? null);
    }
  }

  private publishUpdate(
    runId: string,
    round: number,
    hospital: Hospital,
    status: ClientUpdateStatus,
    failureReason: string | null,
  ): void {
    this.deps.events.publish(runId, 'hospital-updated', {
      round,
      hospitalId: hospital.id,
      hospital: hospital.name,
      status,
      failureReason,
    });
  }
}

function withoutHistogram(evaluation: Evaluation): Omit<Evaluation, 'histogram'> {
  const { histogram: _histogram, ...metrics } = evaluation;
  return metrics;
}

function toJson(value: object): Prisma.InputJsonObject {
  return JSON.parse(JSON.stringify(value)) as Prisma.InputJsonObject;
}
