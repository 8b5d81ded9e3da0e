import { isDatabaseUnavailable } from '../../../shared/db/errors.ts';
import type { ModelVersion, TrainingRun } from '../../../shared/db/index.ts';
import { buildModel } from '../../../shared/model/architectures.ts';
import { getModelWeights } from '../../../shared/model/model-weights.ts';
import { sleep } from '../../../shared/util/sleep.ts';
import { encodeWeights, packWeights } from '../../../shared/weights/index.ts';
import type { RunSettings } from '../schemas/runs.ts';
import { audit } from './audit.ts';
import { resolveClassWeights } from './class-weights.ts';
import { findOrCreateModelVersion, promoteModel } from './model-versions.ts';
import { EarlyStopping, validationLossOf } from './early-stopping.ts';
import { promotionRefusal } from './promotion-gate.ts';
import { RoundRunner, type CoordinatorDeps } from './round-runner.ts';
import {
  announceCancellation,
  recordCancellation,
  type CancelRecord,
  type CancelRequest,
} from './run-cancel.ts';
import { lockRunningRun, RunCancelledError } from './run-guard.ts';
import { privacyStopReason } from './run-privacy.ts';
import { parseRunSettings } from './run-settings.ts';

/** The longest pause between two tries while the database is unavailable. */
const MAX_DATABASE_WAIT_MS = 15_000;

interface Loop {
  done: Promise<void>;
  /**
   * Aborted by a cancellation of the run (the loop also stops when the app closes). An
   * in-flight dispatch is not: its answer, the node's job id, is waited for.
   */
  cancel: AbortController;
}

/**
 * Drives training runs in the background, one loop per run. All state is in the database, so
 * an aggregator that restarts picks its running runs up again (resume): completed rounds are
 * kept, a round cut short is run again from its input model. A cancelled run is not resumed.
 */
export class RunCoordinator {
  private readonly loops = new Map<string, Loop>();
  private readonly closing = new AbortController();

  constructor(private readonly deps: CoordinatorDeps) {}

  /** Starts (or resumes) a run's loop unless it is already running here. */
  start(runId: string): void {
    if (this.closing.signal.aborted || this.loops.has(runId)) return;
    const cancel = new AbortController();
    const signal = AbortSignal.any([this.closing.signal, cancel.signal]);
    const done = this.drive(runId, signal).finally(() => this.loops.delete(runId));
    this.loops.set(runId, { done, cancel });
  }

  /**
   * Cancels a pending or running run: first its record (run and round in progress
   * `cancelled`, open updates `failed`, audited), then its loop here, which is stopped and
   * waited for (a dispatch in flight included, up to the request timeout, so that its job id
   * is known), then, best effort, the nodes' jobs of the round in progress. Nothing is
   * aggregated or promoted; models of completed rounds stay.
   */
  async cancel(runId: string, request: CancelRequest): Promise<CancelRecord> {
    const record = await recordCancellation(this.deps.prisma, runId, request);
    if (record.kind !== 'cancelled') return record;
    const loop = this.loops.get(runId);
    if (loop) {
      loop.cancel.abort(new RunCancelledError(runId));
      await loop.done;
    }
    await announceCancellation(this.deps, runId, request, record);
    return record;
  }

  /** Resumes every run left pending or running (by a stop or a crash). */
  async resume(): Promise<void> {
    const runs = await this.deps.prisma.trainingRun.findMany({
      where: { status: { in: ['pending', 'running'] } },
      orderBy: { createdAt: 'asc' },
    });
    for (const run of runs) {
      this.deps.log.info({ runId: run.id, status: run.status }, 'resuming training run');
      this.start(run.id);
    }
  }

  /** Whether a run's loop is active in this process. */
  isActive(runId: string): boolean {
    return this.loops.has(runId);
  }

  /**
   * Stops every loop at its next step and waits. Nothing is marked failed: the runs stay
   * running in the database and resume at the next start.
   */
  async close(): Promise<void> {
    this.closing.abort(new Error('the aggregator is shutting down'));
    await Promise.allSettled([...this.loops.values()].map((loop) => loop.done));
  }

  private async drive(runId: string, signal: AbortSignal): Promise<void> {
    for (let outages = 0; ; outages++) {
      try {
        await this.runLoop(runId, signal);
        return;
      } catch (error) {
        // Closing (the run resumes at the next start) or cancelled (its record says so).
        if (signal.aborted || error instanceof RunCancelledError) return;
        if (!isDatabaseUnavailable(error)) return this.failUnexpectedly(runId, error);
        // The run's state is in the database: once it is back, the loop resumes the way a
        // restarted aggregator does (completed rounds kept, the open round run again).
        const retryInMs = Math.min(1000 * 2 ** outages, MAX_DATABASE_WAIT_MS);
        this.deps.log.warn(
          { err: error, runId, retryInMs },
          'database unavailable: the run resumes when it is back',
        );
        try {
          await sleep(retryInMs, signal);
        } catch {
          return;
        }
      }
    }
  }

  private async failUnexpectedly(runId: string, error: unknown): Promise<void> {
    this.deps.log.error({ err: error, runId }, 'training run failed unexpectedly');
    await this.failRun(runId, `internal error: ${(error as Error).message}`).catch(
      (failure: unknown) => this.deps.log.error({ err: failure, runId }, 'could not fail the run'),
    );
  }

  private async runLoop(runId: string, signal: AbortSignal): Promise<void> {
    const { prisma } = this.deps;
    let run = await prisma.trainingRun.findUnique({ where: { id: runId } });
    if (!run || (run.status !== 'pending' && run.status !== 'running')) return;
    const settings = parseRunSettings(run.settings);
    if (run.status === 'pending') {
      // Conditional: a run cancelled while pending stays cancelled.
      const { count } = await prisma.trainingRun.updateMany({
        where: { id: runId, status: 'pending' },
        data: { status: 'running', startedAt: new Date() },
      });
      if (count === 0) return;
      run = await prisma.trainingRun.findUniqueOrThrow({ where: { id: runId } });
    }

    // Before the initial model: a federation run that cannot read its class counts ends here.
    const classWeights = await resolveClassWeights(this.deps, run, settings, signal);
    signal.throwIfAborted();
    if (!classWeights.ok) return this.failRun(runId, classWeights.reason);
    let input = await this.initialModel(run, settings, signal);
    // Dispatches are aborted by the shutdown only, not by a cancellation (see RoundRunner).
    const rounds = new RoundRunner(this.deps, signal, this.closing.signal);
    const convergence = new EarlyStopping(settings.earlyStopPatience, settings.earlyStopMinDelta);
    let roundsDone = 0;
    let stopReason: string | null = null;
    for (let index = 0; index < settings.rounds; index++) {
      signal.throwIfAborted();
      const existing = await prisma.round.findUnique({
        where: { runId_index: { runId, index } },
        include: { outputModel: true },
      });
      if (existing?.status === 'completed' && existing.outputModel) {
        input = existing.outputModel;
        roundsDone = index + 1;
        if (convergence.observe(validationLossOf(input.metrics))) break;
        continue;
      }
      if (existing?.status === 'failed') {
        return this.failRun(runId, `round ${index + 1} failed: ${existing.failureReason}`);
      }
      // A DP run stops before a round whose epsilon would exceed its budget.
      stopReason = privacyStopReason(settings, index);
      if (stopReason !== null) break;
      const outcome = await rounds.run(run, settings, classWeights.view, index, input, existing);
      signal.throwIfAborted();
      if (!outcome.ok) return this.failRun(runId, outcome.reason);
      input = outcome.model;
      roundsDone = index + 1;
      if (convergence.observe(validationLossOf(input.metrics))) break;
    }
    await this.completeRun(run, settings, input, roundsDone, stopReason);
  }

  /**
   * Round 0: the network built from the run's seed. Building is deterministic, so a restart
   * finds the same weights (same sha256) and reuses the version rather than adding one.
   */
  private async initialModel(
    run: TrainingRun,
    settings: RunSettings,
    signal: AbortSignal,
  ): Promise<ModelVersion> {
    const { prisma, store } = this.deps;
    const first = await prisma.round.findUnique({
      where: { runId_index: { runId: run.id, index: 0 } },
      include: { inputModel: true },
    });
    if (first?.inputModel) return first.inputModel;
    const network = buildModel(settings.architecture, {
      inputSize: settings.inputSize,
      width: settings.width,
      seed: settings.seed,
    });
    let packed: Buffer;
    try {
      const { manifest, blob } = encodeWeights(getModelWeights(network));
      packed = packWeights(manifest, blob);
    } finally {
      network.dispose();
    }
    const stored = await store.putModel(packed);
    signal.throwIfAborted();
    const model = await prisma.$transaction((tx) =>
      findOrCreateModelVersion(tx, { runId: run.id, roundIndex: 0, ...stored, settings }),
    );
    this.deps.log.info(
      { runId: run.id, modelId: model.id, version: model.version, bytes: stored.sizeBytes },
      'initial model stored',
    );
    return model;
  }

  /**
   * Completes the run and, with promote, puts the final model into production unless the
   * promotion gate or the degenerate-model guard refuses it (promotion-gate.ts): then the run
   * completes all the same, production is left as it is and the reason is recorded.
   */
  private async completeRun(
    run: TrainingRun,
    settings: RunSettings,
    final: ModelVersion,
    roundsDone: number,
    stopReason: string | null = null,
  ): Promise<void> {
    const converged = stopReason === null && roundsDone < settings.rounds;
    const refusal = run.promoteOnFinish ? promotionRefusal(settings.promotionGate, final) : null;
    const promoted = await this.deps.prisma.$transaction(async (tx) => {
      // Only a running run completes (a cancelled one is not promoted).
      await lockRunningRun(tx, run.id, {
        status: 'completed',
        finishedAt: new Date(),
        currentRound: roundsDone,
        promotionRefusedReason: refusal,
      });
      const promote = run.promoteOnFinish && refusal === null;
      if (promote) await promoteModel(tx, final.id, 'system');
      await audit(tx, {
        actor: 'system',
        action: 'run.completed',
        subjectType: 'run',
        subjectId: run.id,
        details: {
          finalModelId: final.id,
          version: final.version,
          promoted: promote,
          promotionRefused: refusal,
          rounds: roundsDone,
          converged,
          ...(stopReason !== null && { stopReason }),
        },
      });
      return promote;
    });
    if (refusal === null) {
      this.deps.log.info({ runId: run.id, modelId: final.id, promoted }, 'training run completed');
    } else {
      this.deps.log.warn(
        { runId: run.id, modelId: final.id, promoted, promotionRefused: refusal },
        `training run completed; its final model was not promoted: ${refusal}`,
      );
    }
    this.deps.events.publish(run.id, 'run-completed', {
      finalModelId: final.id,
      version: final.version,
      sha256: final.sha256,
      promoted,
      promotionRefused: refusal,
      rounds: roundsDone,
      converged,
      ...(stopReason !== null && { stopReason }),
    });
    if (stopReason !== null)
      this.deps.log.info(
        { runId: run.id, stopReason },
        'training run stopped on its privacy budget',
      );
  }

  private async failRun(runId: string, reason: string): Promise<void> {
    const failed = await this.deps.prisma.$transaction(async (tx) => {
      // A run cancelled meanwhile stays cancelled.
      const { count } = await tx.trainingRun.updateMany({
        where: { id: runId, status: { in: ['pending', 'running'] } },
        data: { status: 'failed', failureReason: reason, finishedAt: new Date() },
      });
      if (count === 0) return false;
      await audit(tx, {
        actor: 'system',
        action: 'run.failed',
        subjectType: 'run',
        subjectId: runId,
        details: { reason },
      });
      return true;
    });
    if (!failed) return;
    this.deps.log.warn({ runId, reason }, 'training run failed');
    this.deps.events.publish(runId, 'run-failed', { reason });
  }
}
