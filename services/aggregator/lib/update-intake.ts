import {
  Prisma,
  type ClientUpdate,
  type ClientUpdateStatus,
  type Hospital,
  type PrismaClient,
  type RoundStatus,
} from '../../../shared/db/index.ts';
import { HttpError } from '../../../shared/service/errors.ts';
import {
  checkCompatible,
  decodeWeights,
  unpackWeights,
  WeightsFormatError,
} from '../../../shared/weights/index.ts';
import type { UpdateMeta, UpdateReceipt } from '../schemas/updates.ts';
import type { ModelStore } from './model-store.ts';
import type { RoundSignals } from './round-signals.ts';
import type { RunEvents } from './run-events.ts';
import { moveUpdates } from './states.ts';

export interface IntakeDeps {
  prisma: PrismaClient;
  store: ModelStore;
  events: RunEvents;
  signals: RoundSignals;
}

export interface IntakeResult {
  /** false: a repeat of an update already received (idempotent retry). */
  fresh: boolean;
  /** The ClientUpdate's id. */
  updateId: string;
  receipt: UpdateReceipt;
}

/** States from which an upload is taken (failed: the dispatch may have failed on our side only). */
const RECEIVABLE: readonly ClientUpdateStatus[] = ['dispatched', 'training', 'failed'];
/** States whose job gets its recorded outcome when it sends again. */
export const RECEIVED: readonly ClientUpdateStatus[] = ['received', 'accepted', 'rejected'];

/** Why an update of round `number` is refused as late now, or undefined while it is open. */
function lateReason(
  round: { status: RoundStatus; deadlineAt: Date | null },
  number: number,
): string | undefined {
  if (round.status === 'dispatched' && (!round.deadlineAt || round.deadlineAt > new Date())) {
    return undefined;
  }
  return `late update refused: round ${number} is ${round.status === 'dispatched' ? 'past its deadline' : round.status}`;
}

/**
 * Takes one hospital's update of a round (POST /rounds/:runId/updates): the hospital must be
 * selected in that round, the round open, the update trained from the round's input model,
 * and the weights intact (sha256) and shaped like that model, with finite values. The same
 * job sending again gets the recorded outcome. Refusals are recorded on the ClientUpdate
 * (the route writes the audit trail).
 */
export async function receiveUpdate(
  deps: IntakeDeps,
  hospital: Hospital,
  runId: string,
  meta: UpdateMeta,
  packed: Buffer,
): Promise<IntakeResult> {
  const { prisma } = deps;
  const run = await prisma.trainingRun.findUnique({ where: { id: runId } });
  if (!run) throw new HttpError(404, 'run-not-found', `no training run ${runId}`);
  const round = await prisma.round.findUnique({
    where: { runId_index: { runId, index: meta.round - 1 } },
    include: { inputModel: true },
  });
  if (!round) {
    throw new HttpError(
      409,
      'stale-round',
      `round ${meta.round} of run ${runId} has not started (the run is at round ${run.currentRound})`,
    );
  }
  const update = await prisma.clientUpdate.findUnique({
    where: { roundId_hospitalId: { roundId: round.id, hospitalId: hospital.id } },
  });
  if (!update || !round.selectedHospitalIds.includes(hospital.id)) {
    throw new HttpError(
      403,
      'not-selected',
      `hospital ${hospital.name} is not selected in round ${meta.round} of run ${runId}`,
    );
  }
  const receipt = (status: ClientUpdateStatus, sha256: string | null): UpdateReceipt => ({
    runId,
    round: meta.round,
    hospitalId: hospital.id,
    jobId: meta.jobId,
    status,
    sha256,
  });
  if (update.jobId === meta.jobId && RECEIVED.includes(update.status)) {
    return { fresh: false, updateId: update.id, receipt: receipt(update.status, update.sha256) };
  }
  if (update.jobId !== null && update.jobId !== meta.jobId && update.status !== 'failed') {
    throw new HttpError(
      409,
      'stale-job',
      `job ${meta.jobId} is not the current job of ${hospital.name} in round ${meta.round} (${update.jobId})`,
    );
  }

  const context = { deps, hospital, runId, round: meta.round, roundId: round.id };
  await refuseUnlessOpen(context, update, round);
  const inputModel = round.inputModel;
  if (!inputModel || meta.baseModelId !== inputModel.id) {
    const reason = `stale model: trained from ${meta.baseModelId}, but round ${meta.round} starts from ${inputModel?.id ?? 'no model'}`;
    await record(context, update.id, RECEIVABLE, 'rejected', {
      failureReason: reason,
      jobId: meta.jobId,
    });
    throw new HttpError(409, 'stale-model', reason);
  }

  const claimed = await record(context, update.id, RECEIVABLE, 'received', {
    jobId: meta.jobId,
    numSamples: meta.numSamples,
    metrics: (meta.metrics ?? {}) as Prisma.InputJsonObject,
    durationMs: meta.durationMs === undefined ? null : Math.round(meta.durationMs),
    sizeBytes: packed.length,
    sha256: null,
    failureReason: null,
  });
  if (!claimed) {
    const now = await prisma.clientUpdate.findUniqueOrThrow({ where: { id: update.id } });
    if (now.jobId === meta.jobId && RECEIVED.includes(now.status)) {
      return { fresh: false, updateId: update.id, receipt: receipt(now.status, now.sha256) };
    }
    throw new HttpError(409, 'update-closed', `the update is already ${now.status}`);
  }

  let sha256: string | null = null;
  try {
    const { manifest, blob } = unpackWeights(packed);
    sha256 = manifest.sha256;
    const weights = decodeWeights(manifest, blob);
    const expected = (await deps.store.manifest(inputModel.storagePath)).entries;
    const problems = checkCompatible(expected, weights);
    if (problems.length > 0) {
      const listed = problems.slice(0, 5).map((p) => p.message);
      const more = problems.length > 5 ? `; and ${problems.length - 5} more` : '';
      throw new HttpError(
        422,
        'incompatible-update',
        `the weights do not fit model ${inputModel.id}: ${listed.join('; ')}${more}`,
        { problems: problems.length },
      );
    }
  } catch (error) {
    const refusal =
      error instanceof HttpError
        ? error
        : error instanceof WeightsFormatError
          ? new HttpError(422, 'bad-weights', `the weights file is not valid: ${error.message}`)
          : undefined;
    if (!refusal) throw error;
    await record(context, update.id, ['received'], 'rejected', {
      failureReason: refusal.message,
      sha256,
    });
    throw refusal;
  }

  await deps.store.putUpdate(runId, round.index, hospital.id, packed);
  const accepted = await record(context, update.id, ['received'], 'accepted', { sha256 });
  if (!accepted) {
    throw new HttpError(
      409,
      'round-closed',
      `round ${meta.round} closed while the update was checked`,
    );
  }
  await prisma.hospital.update({
    where: { id: hospital.id },
    data: { lastSeenAt: new Date(), sampleCount: meta.numSamples },
  });
  return { fresh: true, updateId: update.id, receipt: receipt('accepted', sha256) };
}

export interface IntakeContext {
  deps: IntakeDeps;
  hospital: Hospital;
  runId: string;
  round: number;
  roundId: string;
}

/** Moves the update from one of `from` to `to` (compare and set); false when it had moved on. */
async function record(
  ctx: IntakeContext,
  updateId: string,
  from: readonly ClientUpdateStatus[],
  to: ClientUpdateStatus,
  data: Omit<Prisma.ClientUpdateUpdateManyMutationInput, 'status'>,
): Promise<boolean> {
  const count = await moveUpdates(ctx.deps.prisma, { id: updateId }, from, to, data);
  if (count === 0) return false;
  ctx.deps.events.publish(ctx.runId, 'hospital-updated', {
    round: ctx.round,
    hospitalId: ctx.hospital.id,
    hospital: ctx.hospital.name,
    status: to,
    failureReason: typeof data.failureReason === 'string' ? data.failureReason : null,
  });
  ctx.deps.signals.notify(ctx.roundId);
  return true;
}

/**
 * Refuses an upload to a closed round (409 `round-closed`, recorded by refuseLate) or of an
 * update that no longer takes one (409 `update-closed`).
 */
export async function refuseUnlessOpen(
  ctx: IntakeContext,
  update: ClientUpdate,
  round: { status: RoundStatus; deadlineAt: Date | null },
): Promise<void> {
  const late = lateReason(round, ctx.round);
  if (late !== undefined) {
    await refuseLate(ctx, update, late);
    throw new HttpError(409, 'round-closed', late);
  }
  if (!RECEIVABLE.includes(update.status)) {
    throw new HttpError(
      409,
      'update-closed',
      `the update of ${ctx.hospital.name} in round ${ctx.round} is already ${update.status}`,
    );
  }
}

/** A late update: the round's record says so (an open update times out now). */
async function refuseLate(ctx: IntakeContext, update: ClientUpdate, reason: string): Promise<void> {
  const timedOut = await record(ctx, update.id, ['dispatched', 'training'], 'timed_out', {
    failureReason: reason,
  });
  if (!timedOut && update.status !== 'accepted') {
    await ctx.deps.prisma.clientUpdate.update({
      where: { id: update.id },
      data: { failureReason: update.failureReason ? `${update.failureReason}; ${reason}` : reason },
    });
  }
}
