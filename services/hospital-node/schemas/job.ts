import { Type, type Static } from '@sinclair/typebox';
import { JOB_VIEW_EXAMPLE } from './examples.ts';

export const JobStatusSchema = Type.Union([
  Type.Literal('queued'),
  Type.Literal('downloading'),
  Type.Literal('training'),
  Type.Literal('uploading'),
  Type.Literal('done'),
  Type.Literal('failed'),
]);
export type JobStatus = Static<typeof JobStatusSchema>;

export const JobViewSchema = Type.Object(
  {
    jobId: Type.String(),
    runId: Type.String(),
    round: Type.Integer(),
    baseModelId: Type.String(),
    status: JobStatusSchema,
    progress: Type.Object({
      epoch: Type.Integer(),
      epochs: Type.Integer(),
      step: Type.Integer(),
      steps: Type.Integer(),
    }),
    metrics: Type.Union([
      Type.Object({
        loss: Type.Number(),
        accuracy: Type.Number(),
        numSamples: Type.Integer(),
        durationMs: Type.Number(),
      }),
      Type.Null(),
    ]),
    /** The sha256 and size of the packed weights pushed to the aggregator. */
    update: Type.Union([
      Type.Object({ sha256: Type.String(), bytes: Type.Integer() }),
      Type.Null(),
    ]),
    error: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ description: 'ISO 8601' }),
    finishedAt: Type.Union([Type.String({ description: 'ISO 8601' }), Type.Null()]),
  },
  { examples: [JOB_VIEW_EXAMPLE] },
);
export type JobView = Static<typeof JobViewSchema>;
