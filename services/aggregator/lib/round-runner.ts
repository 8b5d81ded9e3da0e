import type { FastifyBaseLogger } from 'fastify';
import {
  Prisma,
  type ClientUpdateStatus,
  type Hospital,
  type ModelVersion,
  type PrismaClient,
  type Round,
} from '../../../shared/db/index.ts';
import { encodeWeights, packWeights } from '../../../shared/weights/index.ts';
import type { NodeJob, NodeTrainRequest } from '../schemas/hospital-node.ts';
import type { RunClassWeights, RunSettings } from '../schemas/runs.ts';
import { audit } from './audit.ts';
import { CANDIDATE_PREFIX, evaluateCandidate, type EvaluationGrants } from './evaluation.ts';
import { HospitalCallError, type HospitalClient } from './hospital-client.ts';
import type { ModelStore } from './model-store.ts';
import { aggregateRound } from './round-aggregation.ts';
import { commitRound } from './round-commit.ts';
import { roundReport } from './round-report.ts';
import type { RoundSignals } from './round-signals.ts';
import { lockRunningRun, RunCancelledError } from './run-guard.ts';
import type { RunEvents } from './run-events.ts';
import { trainRequest } from './run-settings.ts';
import { runStrategy } from './run-strategy.ts';
import { selectHospitals } from './selection.ts';
import { moveRounds, moveUpdates, OPEN_ROUND_STATUSES, OPEN_UPDATE_STATUSES } from './states.ts';

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
      where: { roundId: round.id, status: { in: [...OPEN_UPDATE_STATUSES, 'accepted'] } },
      include: { hospital: true },
    });
    await moveUpdates(
      prisma,
      { id: { in: voided.map((u) => u.id) } },
      [...OPEN_UPDATE_STATUSES, 'accepted'],
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
        where: { roundId: round.id, status: { in: [...OPEN_UPDATE_STATUSES] } },
      });
      if (open.length === 0) return;
      const now = Date.now();
      if (now >= deadline) {
        for (const update of open) {
          const hospital = byId.get(update.hospitalId);
          if (!hospital) continue;
          await this.transition(run, round, hospital, OPEN_UPDATE_STATUSES, 'timed_out', {
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
    const strategy = runStrategy(settings);
    const aggregation = await aggregateRound(
      {
        ...this.deps,
        reject: (hospital, reason) =>
          this.transition(run, round, hospital, ['accepted'], 'rejected', {
            failureReason: reason,
          }),
      },
      { runId: run.id, round, input, settings, strategy, updates },
    );
    if (!aggregation.ok) return this.fail(run, round.index, input, aggregation.reason);
    const { weights: aggregated, accepted, contributions, updateNorms } = aggregation;
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

  private async fail(
    run: RunRef,
    index: number,
    input: ModelVersion,
    reason: string,
  ): Promise<RoundOutcome> {
    const fields = { failureReason: reason, finishedAt: new Date() };
    await this.deps.prisma.$transaction(async (tx) => {
      // A cancelled run's round stays cancelled.
      await lockRunningRun(tx, run.id);
      const where = { runId: run.id, index };
      if ((await moveRounds(tx, where, OPEN_ROUND_STATUSES, 'failed', fields)) > 0) return;
      const existing = await tx.round.findUnique({ where: { runId_index: where } });
      if (!existing) {
        // The round failed before it started (no hospital to select): its row begins failed.
        await tx.round.create({
          data: {
            ...where,
            inputModelId: input.id,
            startedAt: fields.finishedAt,
            status: 'failed',
            ...fields,
          },
        });
      } else if (existing.status === 'failed') {
        // Another attempt failed again: the reason is the latest one's (no change of state).
        await tx.round.update({ where: { id: existing.id }, data: fields });
      }
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
