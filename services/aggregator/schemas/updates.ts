import { Type, type Static } from '@sinclair/typebox';
import { UpdateStatusSchema } from './runs.ts';

export const UpdateParamsSchema = Type.Object({
  runId: Type.String({ minLength: 1, maxLength: 200 }),
});
export type UpdateParams = Static<typeof UpdateParamsSchema>;

/** The multipart `meta` field (docs/protocol.md), checked by hand: multipart has no body schema. */
export const UpdateMetaSchema = Type.Object({
  round: Type.Integer({ minimum: 1, description: '1-based round number, as in POST /train' }),
  hospitalId: Type.String({ maxLength: 200, description: "The node's HOSPITAL_ID (informative)" }),
  jobId: Type.String({ minLength: 1, maxLength: 200 }),
  baseModelId: Type.String({ minLength: 1, maxLength: 200 }),
  numSamples: Type.Integer({ minimum: 1 }),
  metrics: Type.Optional(
    Type.Object({ loss: Type.Optional(Type.Number()), accuracy: Type.Optional(Type.Number()) }),
  ),
  durationMs: Type.Optional(Type.Number({ minimum: 0 })),
});
export type UpdateMeta = Static<typeof UpdateMetaSchema>;

export const UpdateReceiptSchema = Type.Object({
  runId: Type.String(),
  round: Type.Integer(),
  hospitalId: Type.String({ description: "The aggregator's id of the hospital" }),
  jobId: Type.String(),
  status: UpdateStatusSchema,
  sha256: Type.Union([Type.String(), Type.Null()]),
});
export type UpdateReceipt = Static<typeof UpdateReceiptSchema>;
