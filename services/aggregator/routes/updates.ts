import type { Multipart } from '@fastify/multipart';
import { PART_HIGH_WATER_MARK } from '../../../shared/service/multipart.ts';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Value } from '@sinclair/typebox/value';
import type { Hospital } from '../../../shared/db/index.ts';
import { HttpError } from '../../../shared/service/errors.ts';
import { audit } from '../lib/audit.ts';
import { receiveUpdate } from '../lib/update-intake.ts';
import { admitUpload } from '../lib/upload-admission.ts';
import { UploadSlots } from '../lib/upload-slots.ts';
import type { AggregatorContext } from '../plugins/context.ts';
import { BEARER_SECURITY, errorResponses } from '../schemas/common.ts';
import {
  UpdateMetaSchema,
  UpdateParamsSchema,
  UpdateReceiptSchema,
  type UpdateMeta,
  type UpdateParams,
  type UpdateReceipt,
} from '../schemas/updates.ts';

export const updateRoutes: FastifyPluginAsync<{ ctx: AggregatorContext }> = async (
  app,
  { ctx },
) => {
  const slots = new UploadSlots();
  /** The hospital each admitted request was sent by (set by the onRequest hook). */
  const admitted = new WeakMap<FastifyRequest, Hospital>();

  app.post<{ Params: UpdateParams; Reply: UpdateReceipt }>(
    '/rounds/:runId/updates',
    {
      schema: {
        summary: "A hospital's update of a round (multipart: `meta` JSON, then `weights`)",
        description:
          'Hospital token only. `meta`: { round, hospitalId, jobId, baseModelId, numSamples, ' +
          'metrics, durationMs }; `weights`: packed weights (application/vnd.fedxray.weights). ' +
          "202: accepted now; 200: this job's update was already received (the recorded " +
          'status is answered). Before any of the body is read: 404 for an unknown run, 403 ' +
          'for a hospital in no round of the run, 409 `round-closed` or `update-closed` when ' +
          'its latest round takes no update from it, 409 `upload-in-progress` while another ' +
          'upload of the same hospital is in flight (one at a time). After: 409 for a stale ' +
          'round, job or model, or a closed round; 422: weights that are corrupt, do not fit ' +
          "the model or hold NaN/Infinity. Refusals are recorded on the hospital's update of " +
          'the round.',
        tags: ['rounds'],
        security: BEARER_SECURITY,
        consumes: ['multipart/form-data'],
        params: UpdateParamsSchema,
        response: {
          200: UpdateReceiptSchema,
          202: UpdateReceiptSchema,
          ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422),
        },
      },
      // Before the body: the token, whether this hospital is expected to upload to this run
      // now, and its single upload slot. Multipart bodies are only read by the handler.
      onRequest: async (request, reply) => {
        const hospital = await ctx.auth.requireHospital(request, reply);
        // A run id the schema refuses is answered 400 by validation, next.
        if (!Value.Check(UpdateParamsSchema, request.params)) return;
        const { runId } = request.params;
        try {
          await admitUpload(ctx, hospital, runId);
          if (!slots.tryTake(hospital.id, request, reply)) {
            throw new HttpError(
              409,
              'upload-in-progress',
              `another upload of hospital ${hospital.name} is in progress: send one at a time`,
            );
          }
        } catch (error) {
          await auditRefusal(ctx, request, hospital, runId, undefined, error);
          throw error;
        }
        admitted.set(request, hospital);
      },
    },
    async (request, reply) => {
      const hospital = admitted.get(request);
      if (!hospital) throw new Error('an update reached its handler without being admitted');
      const { runId } = request.params;
      return slots.run(request, async () => {
        let upload: { meta: UpdateMeta; packed: Buffer } | undefined;
        try {
          upload = await readUpload(request);
          const { fresh, updateId, receipt } = await receiveUpdate(
            ctx,
            hospital,
            runId,
            upload.meta,
            upload.packed,
          );
          await audit(ctx.prisma, {
            actor: `hospital:${hospital.id}`,
            action: fresh ? 'update.accepted' : 'update.repeated',
            subjectType: 'update',
            subjectId: updateId,
            details: {
              runId,
              round: upload.meta.round,
              jobId: upload.meta.jobId,
              status: receipt.status,
              sha256: receipt.sha256,
              sizeBytes: upload.packed.length,
              numSamples: upload.meta.numSamples,
            },
          });
          if (fresh) ctx.metrics.updateAccepted();
          return reply.status(fresh ? 202 : 200).send(receipt);
        } catch (error) {
          await auditRefusal(ctx, request, hospital, runId, upload?.meta, error);
          throw error;
        }
      });
    },
  );
};

/** Audits and counts a refused upload (never fails the answer: a failure is logged). */
async function auditRefusal(
  ctx: AggregatorContext,
  request: FastifyRequest,
  hospital: Hospital,
  runId: string,
  meta: UpdateMeta | undefined,
  error: unknown,
): Promise<void> {
  const status = (error as { statusCode?: number }).statusCode ?? 500;
  const code = error instanceof HttpError ? error.code : 'error';
  ctx.metrics.updateRejected(code);
  await audit(ctx.prisma, {
    actor: `hospital:${hospital.id}`,
    action: status === 422 ? 'update.rejected' : 'update.refused',
    subjectType: 'run',
    subjectId: runId,
    details: {
      round: meta?.round ?? null,
      jobId: meta?.jobId ?? null,
      status,
      code,
      reason: error instanceof Error ? error.message.slice(0, 500) : String(error),
    },
  }).catch((failure: unknown) => request.log.error({ err: failure }, 'audit failed'));
}

/** Reads the whole form (so a refusal can always be answered), then checks `meta`. */
async function readUpload(request: FastifyRequest): Promise<{ meta: UpdateMeta; packed: Buffer }> {
  if (!request.isMultipart()) {
    throw new HttpError(415, 'not-multipart', 'send multipart/form-data with `meta` and `weights`');
  }
  let metaText: string | undefined;
  let packed: Buffer | undefined;
  for await (const part of request.parts({
    fileHwm: PART_HIGH_WATER_MARK,
  }) as AsyncIterableIterator<Multipart>) {
    if (part.type === 'file') {
      const bytes = await part.toBuffer();
      if (part.fieldname === 'weights') packed = bytes;
    } else if (part.fieldname === 'meta') {
      metaText = String(part.value);
    }
  }
  if (metaText === undefined) throw new HttpError(400, 'missing-meta', 'no `meta` field');
  if (packed === undefined) throw new HttpError(400, 'missing-weights', 'no `weights` file');
  let meta: unknown;
  try {
    meta = JSON.parse(metaText);
  } catch {
    throw new HttpError(400, 'invalid-meta', '`meta` is not JSON');
  }
  if (!Value.Check(UpdateMetaSchema, meta)) {
    const problems = [...Value.Errors(UpdateMetaSchema, meta)]
      .slice(0, 5)
      .map((e) => `meta${e.path} ${e.message}`);
    throw new HttpError(400, 'invalid-meta', problems.join('; '));
  }
  return { meta, packed };
}
