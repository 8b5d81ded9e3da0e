import { Type, type Static } from '@sinclair/typebox';
import { MODEL_INFO_EXAMPLE } from './examples.ts';
import { ARCHITECTURE_NAMES } from '../../../shared/model/architectures.ts';
import { OperatingPointViewSchema } from './operating-point.ts';

const NullableInteger = (description: string) =>
  Type.Union([Type.Integer(), Type.Null()], { description });

export const PreprocessingSchema = Type.Object(
  {
    inputSize: Type.Integer({ minimum: 32, description: 'Images are resized to S x S pixels' }),
    normalization: Type.Union([Type.Literal('per-image'), Type.Literal('unit')]),
    equalize: Type.Boolean({ description: 'CLAHE before normalisation' }),
  },
  { additionalProperties: false },
);

export const ArchitectureSchema = Type.Union(ARCHITECTURE_NAMES.map((name) => Type.Literal(name)));

/** The model a diagnosis was made with. */
export const ModelRefSchema = Type.Object({
  id: Type.String(),
  version: NullableInteger("The aggregator's version number (null for a directory model)"),
  round: NullableInteger('The federated round that produced it, when known'),
  sha256: Type.String({ description: 'sha256 of the weights blob' }),
  architecture: ArchitectureSchema,
});
export type ModelRef = Static<typeof ModelRefSchema>;

export const ModelCalibrationSchema = Type.Object(
  {
    method: Type.Literal('temperature', { description: 'Temperature scaling (Guo et al. 2017)' }),
    temperature: Type.Number({
      exclusiveMinimum: 0,
      description: 'Reported P(PNEUMONIA) = sigmoid(logit(p) / temperature)',
    }),
  },
  {
    description:
      "The model's calibration (metadata.calibration, fitted on the hospitals' held-out " +
      'splits): /diagnose reports probabilities and the threshold in this scale. Absent: raw',
  },
);
export type ModelCalibration = Static<typeof ModelCalibrationSchema>;

/** What a loaded model says about itself (LoadedModel.info): `threshold` is its own. */
export const LoadedModelInfoSchema = Type.Object({
  ...ModelRefSchema.properties,
  width: Type.Integer({ description: 'Base width of the network (64 = the paper)' }),
  inputSize: Type.Integer(),
  threshold: Type.Number({
    description:
      'Raw P(PNEUMONIA) (before any calibration) at or above which the label is PNEUMONIA',
  }),
  thresholdRule: Type.Union([Type.String(), Type.Null()]),
  calibration: Type.Optional(ModelCalibrationSchema),
  preprocessing: PreprocessingSchema,
  members: Type.Integer({
    minimum: 1,
    description:
      'Networks whose P(PNEUMONIA) is averaged per diagnosis: 1 = one model, more = an ensemble (each member adds its time to timingMs)',
  }),
  loadedAt: Type.String({ format: 'date-time' }),
  source: Type.Union([Type.Literal('aggregator'), Type.Literal('directory')]),
  inferRuntime: Type.Optional(
    Type.String({
      description:
        "What scores /diagnose with this model: 'onnxruntime' (onnxruntime-node, CPU), or 'tfjs-' + the TensorFlow.js backend ('tfjs-wasm')",
    }),
  ),
});
export type LoadedModelInfo = Static<typeof LoadedModelInfoSchema>;

/** GET /models/current: the loaded model and the threshold /diagnose labels with. */
export const ModelInfoSchema = Type.Object(
  {
    ...LoadedModelInfoSchema.properties,
    threshold: Type.Number({
      minimum: 0,
      maximum: 1,
      description:
        "The threshold in force: P(PNEUMONIA) at or above which /diagnose says PNEUMONIA (the site's operating point when one is set for this model, else modelThreshold)",
    }),
    modelThreshold: Type.Number({ description: 'The threshold stored with the model' }),
    thresholdSource: Type.Union([Type.Literal('model'), Type.Literal('site')], {
      description:
        "'site': set for this model (its sha256) by PUT /models/current/threshold; 'model': the model's own",
    }),
    operatingPoint: Type.Union([OperatingPointViewSchema, Type.Null()]),
  },
  { examples: [MODEL_INFO_EXAMPLE] },
);
export type ModelInfo = Static<typeof ModelInfoSchema>;

export function modelRef(info: ModelRef): ModelRef {
  const { id, version, round, sha256, architecture } = info;
  return { id, version, round, sha256, architecture };
}
