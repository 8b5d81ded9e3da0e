/**
 * The wire contract of POST /train between the aggregator and a hospital node
 * (docs/protocol.md): which network and model to train, the local settings and where they
 * sit in the run's schedule. One schema: the node validates requests with it and the
 * aggregator builds its requests as its static type (and checks them in a test).
 */
import { Type, type Static } from '@sinclair/typebox';
import { ARCHITECTURE_NAMES, type ArchitectureName } from '../model/architectures.ts';
import { TRAIN_ACCEPTED_EXAMPLE, TRAIN_REQUEST_EXAMPLE } from './examples.ts';

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

// A plain array with minItems/maxItems (OpenAPI 3.0 has no tuple form); typed as the pair.
const ClassWeightsSchema = Type.Unsafe<[number, number]>(
  Type.Array(Type.Number({ minimum: 0 }), {
    minItems: 2,
    maxItems: 2,
    description:
      "[NORMAL, PNEUMONIA] loss weights used instead of the local images' own class weights " +
      "(when classBalancing is 'weights', the default): the aggregator sends a federation's, " +
      "computed from all its hospitals' training-split counts (GET /info splits.train), so " +
      'that every hospital optimises its share of the pooled loss. Finite, >= 0, not both 0',
  }),
);

const TrainSettingsSchema = Type.Partial(
  Type.Object({
    epochs: Type.Integer({ maximum: 1000 }),
    batchSize: Type.Integer({ maximum: 1024 }),
    optimizer: Type.Union([Type.Literal('adam'), Type.Literal('sgd')]),
    learningRate: Type.Number(),
    momentum: Type.Number(),
    weightDecay: Type.Number(),
    schedule: Type.Union([Type.Literal('constant'), Type.Literal('cosine'), Type.Literal('step')]),
    warmupEpochs: Type.Number(),
    classBalancing: Type.Union([Type.Literal('weights'), Type.Literal('none')]),
    classWeights: ClassWeightsSchema,
    labelSmoothing: Type.Number(),
    maxStepsPerEpoch: Type.Integer({
      minimum: 1,
      maximum: 1000000,
      description:
        'K: stop each local epoch after K steps (each epoch still draws a fresh shuffle); ' +
        'with 1 epoch: K local steps per round. Absent: whole epochs',
    }),
    proximalMu: Type.Number({
      minimum: 0,
      maximum: 999,
      description:
        "FedProx's mu: the loss gains (mu/2)||w - w0||^2, w0 the downloaded global weights. " +
        'Absent or 0: plain local training',
    }),
    augment: Type.Boolean(),
    augmentPolicy: Type.Union([Type.Literal('light'), Type.Literal('strong')], {
      description:
        "Which augmentation when augment is on (docs/engine.md); absent: 'light'. 'strong' adds zoom 0.75-1.3 with a black frame half the time, shift 12%, gamma, blur, noise and cutout",
    }),
    seed: Type.Integer(),
  }),
  {
    additionalProperties: false,
    description: 'TrainSettings; missing fields take the defaults (1 epoch, batch 16, Adam 1e-3)',
  },
);

export const TrainRequestSchema = Type.Object(
  {
    runId: Type.String({ minLength: 1, maxLength: 200 }),
    round: Type.Integer({ minimum: 0 }),
    ...ModelInputFields,
    settings: Type.Optional(TrainSettingsSchema),
    schedule: Type.Optional(
      Type.Object(
        {
          startEpoch: Type.Integer({ minimum: 0 }),
          totalEpochs: Type.Integer({ minimum: 1 }),
        },
        {
          additionalProperties: false,
          description: 'Where these epochs sit in the learning-rate schedule of the whole run',
        },
      ),
    ),
  },
  { examples: [TRAIN_REQUEST_EXAMPLE] },
);
export type TrainRequest = Static<typeof TrainRequestSchema>;

export const TrainAcceptedSchema = Type.Object(
  { jobId: Type.String({ minLength: 1 }) },
  { examples: [TRAIN_ACCEPTED_EXAMPLE] },
);
export type TrainAccepted = Static<typeof TrainAcceptedSchema>;
