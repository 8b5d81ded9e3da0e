import { Type, type Static } from '@sinclair/typebox';
import { EVALUATION_EXAMPLE } from './examples.ts';

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

const Sum = Type.Number({ minimum: 0 });
const SumRows = (description: string) =>
  Type.Array(Type.Array(Sum, { maxItems: 100 }), { maxItems: 1_000, description });

/**
 * The sums over a node's validation images from which the aggregator fits a temperature
 * (shared/metrics/temperature-scaling.ts): per grid temperature T, the summed NLL of
 * sigmoid(logit(p) / T) and reliability bins of that tempered probability. Sums only: no
 * array grows with the number of images.
 */
export const TemperatureCurveSchema = Type.Object(
  {
    temperatures: Type.Array(Type.Number({ exclusiveMinimum: 0 }), {
      maxItems: 1_000,
      description: 'The grid: 81 temperatures 2^(-2 + i/20), 0.25 .. 4',
    }),
    nll: Type.Array(Sum, {
      maxItems: 1_000,
      description: 'Summed negative log-likelihood (nats) at each grid temperature',
    }),
    bins: Type.Integer({ minimum: 1, maximum: 100, description: 'Reliability bins (10)' }),
    count: SumRows('[temperature][bin]: images whose tempered P(PNEUMONIA) falls in the bin'),
    probabilitySum: SumRows('[temperature][bin]: their summed tempered P(PNEUMONIA)'),
    positives: SumRows('[temperature][bin]: the PNEUMONIA images among them'),
  },
  {
    description:
      'NLL and reliability sums of the validation split at a grid of temperatures, for ' +
      'fitting a temperature (calibrated probabilities) on the pooled hospitals',
  },
);
export type TemperatureCurveAnswer = Static<typeof TemperatureCurveSchema>;

/**
 * A hospital's validation metrics of a model: what a node's POST /evaluate answers and what the
 * aggregator reads back. One schema for both sides of the wire. `histogram` and
 * `temperature` are optional so that the answer of a node from before them still reads (that
 * node is then left out of the threshold choice or of the temperature fit).
 */
export const EvaluationSchema = Type.Object(
  {
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
    temperature: Type.Optional(TemperatureCurveSchema),
  },
  { examples: [EVALUATION_EXAMPLE] },
);
export type Evaluation = Static<typeof EvaluationSchema>;
