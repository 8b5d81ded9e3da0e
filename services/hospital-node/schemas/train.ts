import { Type, type Static } from '@sinclair/typebox';
import { ModelInputFields } from './common.ts';

const TrainSettingsSchema = Type.Partial(
  Type.Object({
    epochs: Type.Integer({ maximum: 1000 }),
    batchSize: Type.Integer({ maximum: 1024 }),
    optimizer: Type.Union([Type.Literal('adam'), Type.Literal('sgd')]),
    learningRate: Type.Number(),
    momentum: Type.Number(),
    weightDecay: Type.Number(),
    schedule: Type.Union([Type.Literal('constant'), Type.Literal('cosine'), Type.Literal('step')]),
    warmupEpochs: Type.Number(),
    classBalancing: Type.Union([Type.Literal('weights'), Type.Literal('none')]),
    labelSmoothing: Type.Number(),
    augment: Type.Boolean(),
    seed: Type.Integer(),
  }),
  {
    additionalProperties: false,
    description: 'TrainSettings; missing fields take the defaults (1 epoch, batch 16, Adam 1e-3)',
  },
);

export const TrainRequestSchema = Type.Object({
  runId: Type.String({ minLength: 1, maxLength: 200 }),
  round: Type.Integer({ minimum: 0 }),
  ...ModelInputFields,
  settings: Type.Optional(TrainSettingsSchema),
  schedule: Type.Optional(
    Type.Object(
      {
        startEpoch: Type.Integer({ minimum: 0 }),
        totalEpochs: Type.Integer({ minimum: 1 }),
      },
      {
        additionalProperties: false,
        description: 'Where these epochs sit in the learning-rate schedule of the whole run',
      },
    ),
  ),
});
export type TrainRequest = Static<typeof TrainRequestSchema>;

export const TrainAcceptedSchema = Type.Object({ jobId: Type.String() });
export type TrainAccepted = Static<typeof TrainAcceptedSchema>;

export const JobParamsSchema = Type.Object({
  jobId: Type.String({ minLength: 1, maxLength: 100 }),
});
export type JobParams = Static<typeof JobParamsSchema>;

export const CancelJobBodySchema = Type.Object({}, { additionalProperties: false });
export type CancelJobBody = Static<typeof CancelJobBodySchema>;
