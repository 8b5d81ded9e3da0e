import { Type, type Static } from '@sinclair/typebox';
import { UPDATE_RECEIPT_EXAMPLE } from './examples.ts';
import { UpdateStatusSchema } from './runs.ts';

export const UpdateParamsSchema = Type.Object({
  runId: Type.String({ minLength: 1, maxLength: 200 }),
});
export type UpdateParams = Static<typeof UpdateParamsSchema>;

export { UpdateMetaSchema, type UpdateMeta } from '../../../shared/protocol/update-meta.ts';

export const UpdateReceiptSchema = Type.Object(
  {
    runId: Type.String(),
    round: Type.Integer(),
    hospitalId: Type.String({ description: "The aggregator's id of the hospital" }),
    jobId: Type.String(),
    status: UpdateStatusSchema,
    sha256: Type.Union([Type.String(), Type.Null()]),
  },
  { examples: [UPDATE_RECEIPT_EXAMPLE] },
);
export type UpdateReceipt = Static<typeof UpdateReceiptSchema>;
