import { Type, type Static } from '@sinclair/typebox';

/** Score bins of the histogram a node answers (shared/metrics/score-histogram.ts). */
export const HISTOGRAM_BINS = 100;

/**
 * Class counts per score bin of a node's validation split: bin k counts the images whose
 * P(PNEUMONIA) is in [k / bins, (k + 1) / bins). No image, id or per-image score.
 */
export const ScoreHistogramSchema = Type.Object(
  {
    bins: Type.Integer({ minimum: 2, maximum: 10_000 }),
    positive: Type.Array(Type.Integer({ minimum: 0 }), {
      maxItems: 10_000,
      description: 'PNEUMONIA images per bin',
    }),
    negative: Type.Array(Type.Integer({ minimum: 0 }), {
      maxItems: 10_000,
      description: 'NORMAL images per bin',
    }),
  },
  {
    description:
      'Class counts per score bin of the validation split, for choosing the threshold on the pooled hospitals',
  },
);

/**
 * A hospital's validation metrics of a model: what a node's POST /evaluate answers and what the
 * aggregator reads back. One schema for both sides of the wire. `histogram` is optional so that
 * the answer of a node from before it still reads (that node is then left out of calibration).
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
  histogram: Type.Optional(ScoreHistogramSchema),
});
export type Evaluation = Static<typeof EvaluationSchema>;
