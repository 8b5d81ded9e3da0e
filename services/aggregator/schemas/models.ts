import { Type, type Static } from '@sinclair/typebox';
import { AnyJson, NullableInteger, NullableString, Timestamp } from './common.ts';

export const PreprocessingSchema = Type.Object({
  inputSize: Type.Integer(),
  normalization: Type.Union([Type.Literal('per-image'), Type.Literal('unit')]),
  equalize: Type.Boolean(),
});

export const ThresholdSchema = Type.Object({
  threshold: Type.Number(),
  rule: Type.String(),
  description: Type.Optional(Type.String()),
});

export const ModelMetadataSchema = Type.Object(
  {
    preprocessing: Type.Optional(PreprocessingSchema),
    threshold: Type.Optional(ThresholdSchema),
    width: Type.Optional(Type.Integer()),
  },
  { additionalProperties: true },
);
export type ModelMetadata = Static<typeof ModelMetadataSchema>;

/** One model version; GET /models/production answers this (docs/inference-api.md). */
export const ModelViewSchema = Type.Object({
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
  metrics: AnyJson,
  createdAt: Timestamp,
});
export type ModelView = Static<typeof ModelViewSchema>;

export const ModelListSchema = Type.Object({ models: Type.Array(ModelViewSchema) });
export type ModelList = Static<typeof ModelListSchema>;
