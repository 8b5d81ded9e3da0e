/**
 * The multipart `meta` field of an update upload (POST /runs/:runId/updates, docs/protocol.md):
 * what the aggregator learns about one local training besides the weights. The node builds it
 * as this type; the aggregator checks it with this schema.
 */
import { Type, type Static } from '@sinclair/typebox';
import { UpdateMetricsSchema } from './stored-metrics.ts';

/** The multipart `meta` field (docs/protocol.md), checked with Value.Check: multipart has no body schema. */
export const UpdateMetaSchema = Type.Object({
  round: Type.Integer({ minimum: 1, description: '1-based round number, as in POST /train' }),
  hospitalId: Type.String({ maxLength: 200, description: "The node's HOSPITAL_ID (informative)" }),
  jobId: Type.String({ minLength: 1, maxLength: 200 }),
  baseModelId: Type.String({ minLength: 1, maxLength: 200 }),
  numSamples: Type.Integer({ minimum: 1 }),
  metrics: Type.Optional(UpdateMetricsSchema),
  durationMs: Type.Optional(Type.Number({ minimum: 0 })),
});
export type UpdateMeta = Static<typeof UpdateMetaSchema>;
