import { Type, type Static } from '@sinclair/typebox';
import { ARCHITECTURE_NAMES, type ArchitectureName } from '../../../shared/model/architectures.ts';
import { ERROR_RESPONSE_SCHEMA } from '../../../shared/service/create-app.ts';

export const ErrorResponse = ERROR_RESPONSE_SCHEMA;

/** OpenAPI: the route needs `Authorization: Bearer <HOSPITAL_TOKEN>`. */
export const BEARER_SECURITY = [{ bearerAuth: [] }];

export const ModelRefSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 200 }),
    sha256: Type.String({
      pattern: '^[0-9a-fA-F]{64}$',
      description: "The model version's sha256: the sha256 of its weights blob",
    }),
  },
  { additionalProperties: false },
);

export const ArchitectureSchema = Type.Unsafe<ArchitectureName>({
  type: 'string',
  enum: [...ARCHITECTURE_NAMES],
});

export const PreprocessingSchema = Type.Object(
  {
    inputSize: Type.Integer({ minimum: 32, maximum: 1024 }),
    normalization: Type.Optional(
      Type.Union([Type.Literal('per-image'), Type.Literal('unit')], { default: 'per-image' }),
    ),
    equalize: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false },
);

/** The fields that pick the network, shared by /train and /evaluate. */
export const ModelInputFields = {
  model: ModelRefSchema,
  architecture: ArchitectureSchema,
  inputSize: Type.Integer({ minimum: 32, maximum: 1024 }),
  width: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 512, default: 64, description: '64 = the paper' }),
  ),
  preprocessing: Type.Optional(PreprocessingSchema),
};

export const ModelInputSchema = Type.Object(ModelInputFields);
export type ModelInput = Static<typeof ModelInputSchema>;

export const ClassCountsSchema = Type.Object({
  NORMAL: Type.Integer(),
  PNEUMONIA: Type.Integer(),
  total: Type.Integer(),
});
