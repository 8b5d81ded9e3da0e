import { Type, type Static } from '@sinclair/typebox';

/**
 * A hospital's validation metrics of a model: what a node's POST /evaluate answers and what the
 * aggregator reads back. One schema for both sides of the wire.
 */
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
