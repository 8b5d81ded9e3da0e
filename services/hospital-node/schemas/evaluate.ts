import { Type, type Static } from '@sinclair/typebox';
import { ModelInputFields } from './common.ts';

export const EvaluateRequestSchema = Type.Object({
  ...ModelInputFields,
  threshold: Type.Optional(
    Type.Number({
      minimum: 0,
      maximum: 1,
      default: 0.5,
      description: 'PNEUMONIA iff P(PNEUMONIA) >= threshold',
    }),
  ),
});
export type EvaluateRequest = Static<typeof EvaluateRequestSchema>;

export const EvaluationSchema = Type.Object({
  n: Type.Integer({ description: 'Images in the validation split' }),
  threshold: Type.Number(),
  loss: Type.Number(),
  accuracy: Type.Number(),
  precision: Type.Number(),
  recall: Type.Number(),
  specificity: Type.Number(),
  f1: Type.Number(),
  auc: Type.Number(),
  confusion: Type.Object({
    tp: Type.Integer(),
    fp: Type.Integer(),
    tn: Type.Integer(),
    fn: Type.Integer(),
  }),
});
export type Evaluation = Static<typeof EvaluationSchema>;
