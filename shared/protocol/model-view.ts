/**
 * A model version as the aggregator describes it (GET /models, /models/{id},
 * /models/production): the aggregator's response schema and what the inference API reads
 * (services/inference-api/lib/production-model.ts, which also accepts looser shapes from
 * other registries). One schema for both ends.
 */
import { Type, type Static } from '@sinclair/typebox';
import { MODEL_VIEW_EXAMPLE } from './examples.ts';
import { TemperatureCalibrationSchema } from './calibration.ts';

const NullableString = Type.Union([Type.String(), Type.Null()]);
const NullableInteger = Type.Union([Type.Integer(), Type.Null()]);

export const PreprocessingSchema = Type.Object({
  inputSize: Type.Integer(),
  normalization: Type.Union([Type.Literal('per-image'), Type.Literal('unit')]),
  equalize: Type.Boolean(),
});

export const CalibrationBasisSchema = Type.Object(
  {
    hospitals: Type.Integer({ description: 'Hospitals whose score histograms were pooled' }),
    images: Type.Integer(),
    positives: Type.Integer({ description: 'PNEUMONIA images' }),
    negatives: Type.Integer({ description: 'NORMAL images' }),
    bins: Type.Integer(),
    excluded: Type.Array(
      Type.Object({ hospitalId: Type.String(), hospital: Type.String(), reason: Type.String() }),
      { description: "The round's hospitals left out of the pool, and why" },
    ),
  },
  { description: "The hospitals' validation splits the threshold was chosen on" },
);

export const ThresholdSchema = Type.Object({
  threshold: Type.Number({ description: 'PNEUMONIA when P(PNEUMONIA) >= threshold' }),
  rule: Type.String({ description: "The run's thresholdRule, e.g. fixed:0.5, min-recall:0.95" }),
  description: Type.Optional(Type.String()),
  basis: Type.Optional(CalibrationBasisSchema),
});

/** The differential-privacy guarantee a version was trained under (a DP-FedAvg run's). */
export const ModelPrivacySchema = Type.Object(
  {
    epsilon: Type.Number({
      description: 'epsilon at delta after the rounds that made this version',
    }),
    delta: Type.Number(),
    noiseMultiplier: Type.Number(),
    clipNorm: Type.Number(),
    rounds: Type.Integer(),
    guarantee: Type.String(),
  },
  { additionalProperties: true },
);

export const ModelMetadataSchema = Type.Object(
  {
    preprocessing: Type.Optional(PreprocessingSchema),
    threshold: Type.Optional(ThresholdSchema),
    calibration: Type.Optional(TemperatureCalibrationSchema),
    width: Type.Optional(Type.Integer()),
    privacy: Type.Optional(ModelPrivacySchema),
  },
  { additionalProperties: true },
);
export type ModelMetadata = Static<typeof ModelMetadataSchema>;

/** One model version; GET /models/production answers this (docs/inference-api.md). */
export const ModelViewSchema = Type.Object(
  {
    id: Type.String(),
    version: Type.Integer(),
    runId: NullableString,
    roundIndex: NullableInteger,
    sha256: Type.String({ description: "sha256 of the weights blob (the manifest's sha256)" }),
    sizeBytes: Type.Integer({ description: 'Size of the packed weights file' }),
    architecture: Type.String(),
    inputSize: Type.Integer(),
    width: NullableInteger,
    stage: Type.Union([
      Type.Literal('candidate'),
      Type.Literal('production'),
      Type.Literal('archived'),
    ]),
    metadata: ModelMetadataSchema,
    metrics: Type.Unknown(),
    createdAt: Type.String({ description: 'ISO 8601' }),
  },
  { examples: [MODEL_VIEW_EXAMPLE] },
);
export type ModelView = Static<typeof ModelViewSchema>;
