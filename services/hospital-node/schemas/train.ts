import { Type, type Static } from '@sinclair/typebox';
import { CANCEL_JOB_EXAMPLE } from './examples.ts';

export {
  TrainAcceptedSchema,
  TrainRequestSchema,
  type TrainAccepted,
  type TrainRequest,
} from '../../../shared/protocol/train-request.ts';

export const JobParamsSchema = Type.Object({
  jobId: Type.String({ minLength: 1, maxLength: 100 }),
});
export type JobParams = Static<typeof JobParamsSchema>;

export const CancelJobBodySchema = Type.Object(
  {},
  { additionalProperties: false, examples: [CANCEL_JOB_EXAMPLE] },
);
export type CancelJobBody = Static<typeof CancelJobBodySchema>;
