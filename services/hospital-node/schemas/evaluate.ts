import { Type, type Static } from '@sinclair/typebox';
import { EVALUATE_REQUEST_EXAMPLE } from './examples.ts';
import { ModelInputFields } from './common.ts';

export const EvaluateRequestSchema = Type.Object(
  {
    ...ModelInputFields,
    threshold: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        default: 0.5,
        description: 'PNEUMONIA iff P(PNEUMONIA) >= threshold',
      }),
    ),
  },
  { examples: [EVALUATE_REQUEST_EXAMPLE] },
);
export type EvaluateRequest = Static<typeof EvaluateRequestSchema>;

export { EvaluationSchema, type Evaluation } from '../../../shared/protocol/evaluation.ts';
