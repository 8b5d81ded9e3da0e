import { STRATEGIES, STRATEGY_NAMES } from '../../../shared/federated/strategies.ts';
import { Type, type Static, type TInteger, type TNumber } from '@sinclair/typebox';
import {
  CANCEL_RUN_EXAMPLE,
  RUN_CREATED_EXAMPLE,
  RUN_DETAIL_EXAMPLE,
  RUN_LIST_EXAMPLE,
  START_RUN_EXAMPLE,
} from './examples.ts';
import { ARCHITECTURE_NAMES, type ArchitectureName } from '../../../shared/model/architectures.ts';
import {
  AnyJson,
  NullableInteger,
  NullableString,
  NullableTimestamp,
  Timestamp,
} from './common.ts';
import { DifferentialPrivacySchema, RunPrivacySchema } from './privacy.ts';

export type { DifferentialPrivacy, RunPrivacy } from './privacy.ts';

const ArchitectureSchema = Type.Union(
  ARCHITECTURE_NAMES.map((name: ArchitectureName) => Type.Literal(name)),
  { default: 'se-resnet18-gn' },
);

/** How the aggregator turns a round's accepted updates into the next global model. */
export const RunStrategySchema = Type.Object(
  {
    name: Type.Union(
      STRATEGY_NAMES.map((name) => Type.Literal(name)),
      {
        description: STRATEGY_NAMES.map((n) => `${n}: ${STRATEGIES[n].description}`).join('; '),
      },
    ),
    serverMomentum: Type.Optional(
      Type.Number({
        minimum: 0,
        exclusiveMaximum: 1,
        description: 'fedavgm: beta, the share of the previous step kept (default 0.9)',
      }),
    ),
    serverLearningRate: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 10,
        description: 'fedavgm: eta_s, the server step size (default 1)',
      }),
    ),
    trimBeta: Type.Optional(
      Type.Number({
        minimum: 0,
        exclusiveMaximum: 0.5,
        description:
          'trimmed-mean: beta, the fraction of the largest and of the smallest values dropped per coordinate: k = floor(beta n) of the n accepted updates from each end (default 0.2; 0 is the unweighted mean)',
      }),
    ),
    byzantine: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 1000,
        description:
          "krum: f, how many of a round's accepted updates may be Byzantine (default 1). A round with fewer than 2f + 3 accepted updates fails with the reason",
      }),
    ),
    krumSelect: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1000,
        description:
          'krum: m, how many best-scored updates are averaged, unweighted (default 1: Krum; more: Multi-Krum; at most n - f)',
      }),
    ),
  },
  {
    additionalProperties: false,
    default: { name: 'fedavg' },
    description:
      "Aggregation strategy (default fedavg). fedavgm (Hsu et al., 2019) keeps a server velocity: with avg the weighted average of the round's accepted updates and w the round's input model, v = beta v + (w - avg) and w' = w - eta_s v (beta 0 and eta_s 1 is FedAvg). The momentum damps the round-to-round swings that hospitals with very different (non-IID) data cause. The velocity is rebuilt from the stored global models of the run, so a restarted aggregator resumes it. median, trimmed-mean and krum resist a malicious minority of hospitals (docs/privacy.md): the coordinate-wise median and trimmed mean bound what a few values per coordinate can do; Krum scores each update by its summed squared distance to its n - f - 2 nearest others and averages the m best, and its per-update scores and selection are in the round's metrics (aggregation.krum). Krum counts the updates left after the update-norm screen: with maxUpdateNormRatio above 0 a screened-out update can leave fewer than 2f + 3. fedmedian is median under the name runs stored before it carry. serverMomentum and serverLearningRate apply to fedavgm only, trimBeta to trimmed-mean only, byzantine and krumSelect to krum only; runs stored without a strategy run fedavg",
  },
);
export type RunStrategy = Static<typeof RunStrategySchema>;

/** The loss weights of a run's local training: each hospital's own, or the federation's. */
export const ClassWeightsModeSchema = Type.Union(
  [Type.Literal('local'), Type.Literal('federation')],
  {
    default: 'local',
    description:
      "Class weights of the hospitals' loss (default local). local: each hospital weighs its own images' classes (w_c = n / (K n_c), K the classes present, normally 2); with label-skewed hospitals FedAvg then optimises a different objective from pooled training. federation: once, when the run starts, the aggregator reads every active hospital's training-split class counts (GET /info splits.train), sums them and sends the same weights of the sums (w_c = N / (K N_c)) as settings.classWeights in every POST /train of the run, so that each hospital's loss is its share of the pooled loss. The weights and the counts they come from are stored with the run (a restarted aggregator uses them again, asking nobody) and shown in GET /rounds/{id} and each round's metrics as classWeights. Counts that cannot be read fail the run at its start, with the reason; hospitals enabled or registered later are not selected. Runs stored without it are local",
  },
);

const gateMinimum = (description: string) =>
  Type.Optional(Type.Number({ minimum: 0, maximum: 1, description }));

/** The minimum validation quality of a run's final model for it to be promoted automatically. */
export const PromotionGateSchema = Type.Object(
  {
    minAccuracy: gateMinimum(
      "Minimum pooled validation accuracy at the final model's decision threshold",
    ),
    minAuc: gateMinimum(
      "Minimum validation AUC (the hospitals' AUCs weighted by their validation sizes; no threshold)",
    ),
    minRecall: gateMinimum(
      "Minimum pooled validation recall (sensitivity, PNEUMONIA) at the final model's decision threshold",
    ),
    minSpecificity: gateMinimum(
      "Minimum pooled validation specificity (NORMAL) at the final model's decision threshold",
    ),
  },
  {
    additionalProperties: false,
    description:
      "Promotion gate (default none): with promote, the final model goes into production only if its validation summary (the hospitals' POST /evaluate answers, metrics.validation of the version) meets every minimum given. accuracy, recall and specificity are read at the model's own threshold: validation.atThreshold when the summary has it, else the hospitals' values at 0.5 when that is the model's threshold; a minimum that cannot be read so, or a final model no hospital evaluated, refuses the promotion. auc is validation.auc. A refusal leaves production unchanged, completes the run all the same and is recorded in the run's promotionRefusedReason; an admin can still promote the model with POST /models/{id}/promote. Independently of any gate, a final model that calls every validation image the same class while both classes are present is never promoted automatically. Runs stored without a gate have none",
  },
);
export type PromotionGate = Static<typeof PromotionGateSchema>;

/** [NORMAL, PNEUMONIA] as a plain array (OpenAPI 3.0 has no tuples), typed as the pair. */
const pair = <T extends TNumber | TInteger>(item: T, description: string) =>
  Type.Unsafe<[number, number]>(Type.Array(item, { minItems: 2, maxItems: 2, description }));

const CountsSchema = (description: string) => pair(Type.Integer({ minimum: 0 }), description);

const BasisSchema = Type.Unsafe<Record<string, [number, number]>>(
  Type.Object(
    {},
    {
      additionalProperties: CountsSchema('[NORMAL, PNEUMONIA]'),
      description:
        "Hospital id -> [NORMAL, PNEUMONIA]: each hospital's training-split counts as read when the run started",
    },
  ),
);

/** What a federation run stores with its settings once it has read the hospitals' counts. */
export const FederationClassWeightsSchema = Type.Object({
  weights: pair(
    Type.Number({ minimum: 0 }),
    '[NORMAL, PNEUMONIA]: classWeightsFromCounts(counts), sent to every hospital',
  ),
  counts: CountsSchema('[NORMAL, PNEUMONIA] summed over basis'),
  basis: BasisSchema,
  readAt: Timestamp,
});
export type FederationClassWeights = Static<typeof FederationClassWeightsSchema>;

export const RunClassWeightsSchema = Type.Object(
  {
    mode: Type.Union([Type.Literal('local'), Type.Literal('federation')]),
    weights: Type.Union([FederationClassWeightsSchema.properties.weights, Type.Null()]),
    counts: Type.Union([FederationClassWeightsSchema.properties.counts, Type.Null()]),
    basis: Type.Union([BasisSchema, Type.Null()]),
    readAt: NullableTimestamp,
  },
  {
    description:
      "The run's class weights (settings.classWeights): under federation the weights sent to every hospital, the summed counts they come from, each hospital's counts (basis) and when they were read; null under local (each hospital uses its own) and while a federation run has not read them yet",
  },
);
export type RunClassWeights = Static<typeof RunClassWeightsSchema>;

/** A run's settings with every default filled in: what is stored and what the round loop reads. */
export const RunSettingsSchema = Type.Object({
  architecture: ArchitectureSchema,
  inputSize: Type.Integer({ minimum: 32, maximum: 1024, default: 64 }),
  width: Type.Integer({ minimum: 1, maximum: 512, default: 64, description: '64 = the paper' }),
  rounds: Type.Integer({ minimum: 1, maximum: 1000, default: 2, description: 'T' }),
  clientFraction: Type.Number({
    exclusiveMinimum: 0,
    maximum: 1,
    default: 1,
    description: 'C: m = max(round(C x J), 1) of the J available hospitals train each round',
  }),
  localEpochs: Type.Integer({ minimum: 1, maximum: 1000, default: 1 }),
  batchSize: Type.Integer({ minimum: 1, maximum: 1024, default: 16 }),
  maxStepsPerEpoch: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 1000000,
      description:
        'K: each selected hospital stops each local epoch after K steps (with localEpochs 1: FedAvg with K local steps per round; still weighted by image counts). Absent: whole local epochs',
    }),
  ),
  proximalMu: Type.Optional(
    Type.Number({
      minimum: 0,
      maximum: 999,
      description:
        "FedProx's mu: each selected hospital minimises loss + (mu/2)||w - w_global||^2, w_global the round's model, which limits client drift on skewed shares. Absent or 0: FedAvg's plain local training",
    }),
  ),
  learningRate: Type.Number({ exclusiveMinimum: 0, maximum: 10, default: 0.001 }),
  augmentPolicy: Type.Union([Type.Literal('light'), Type.Literal('strong')], {
    default: 'light',
    description:
      "Training-time augmentation every hospital applies (docs/engine.md): 'light' = rotation 10 deg, shift 8%, zoom 0.9-1.1, brightness and contrast 10%; 'strong' adds zoom 0.75-1.3 with a black frame half the time, shift 12%, gamma, blur, noise and cutout",
  }),
  minHospitals: Type.Integer({
    minimum: 1,
    maximum: 10000,
    default: 1,
    description: 'Fewer available hospitals, or accepted updates, fail the run',
  }),
  roundTimeoutSeconds: Type.Integer({ minimum: 1, maximum: 604800, default: 600 }),
  maxDownloads: Type.Integer({
    minimum: 1,
    maximum: 100000,
    description: 'S_max: distinct models of this run a hospital may download (default: rounds)',
  }),
  earlyStopPatience: Type.Integer({
    minimum: 0,
    maximum: 1000,
    default: 0,
    description:
      'Convergence: end the run when the weighted validation loss has not improved by earlyStopMinDelta for this many rounds (0 = run all rounds)',
  }),
  earlyStopMinDelta: Type.Number({ minimum: 0, maximum: 10, default: 0.001 }),
  maxUpdateNormRatio: Type.Union(
    [Type.Literal(0), Type.Number({ exclusiveMinimum: 1, maximum: 1e6 })],
    {
      default: 10,
      description:
        "Poisoning guard: with 3 or more accepted updates in a round, an update whose norm ||w_j - w|| is more than this many times the round's median norm, or less than the median divided by it, is rejected with the reason recorded (0 = off)",
    },
  ),
  thresholdRule: Type.String({
    minLength: 1,
    maxLength: 64,
    default: 'fixed:0.5',
    description:
      "How each round's model gets its decision threshold: fixed:<t>, youden, min-recall:<r in (0,1]> or youden-shrunk:<w>, applied to the pooled score histograms of the hospitals' validation splits (fixed rules use no data)",
  }),
  strategy: RunStrategySchema,
  classWeights: ClassWeightsModeSchema,
  promote: Type.Boolean({
    default: true,
    description:
      'Put the final model into production when the run completes, unless the promotion gate or the degenerate-model guard refuses it (promotionRefusedReason)',
  }),
  promotionGate: Type.Optional(PromotionGateSchema),
  differentialPrivacy: Type.Optional(DifferentialPrivacySchema),
  seed: Type.Integer({
    minimum: 0,
    maximum: 2147483647,
    description: 'Seeds the initial model, the sampling and local training (default: random)',
  }),
});
export type RunSettings = Static<typeof RunSettingsSchema>;

export const StartRunBodySchema = Type.Partial(RunSettingsSchema, {
  additionalProperties: false,
  examples: [START_RUN_EXAMPLE],
});
export type StartRunBody = Static<typeof StartRunBodySchema>;

export const RunCreatedSchema = Type.Object(
  { id: Type.String() },
  { examples: [RUN_CREATED_EXAMPLE] },
);

const RunStatusSchema = Type.Union(
  ['pending', 'running', 'completed', 'failed', 'cancelled'].map((s) => Type.Literal(s)),
);
const RoundStatusSchema = Type.Union(
  ['pending', 'dispatched', 'aggregating', 'completed', 'failed', 'cancelled'].map((s) =>
    Type.Literal(s),
  ),
);
export const UpdateStatusSchema = Type.Union(
  ['dispatched', 'training', 'received', 'accepted', 'rejected', 'failed', 'timed_out'].map((s) =>
    Type.Literal(s),
  ),
);

export const ClientUpdateViewSchema = Type.Object({
  hospitalId: Type.String(),
  hospitalName: Type.String(),
  status: UpdateStatusSchema,
  failureReason: NullableString,
  numSamples: NullableInteger,
  durationMs: NullableInteger,
  metrics: AnyJson,
  jobId: NullableString,
  sha256: NullableString,
  sizeBytes: NullableInteger,
  updatedAt: Timestamp,
});
export type ClientUpdateView = Static<typeof ClientUpdateViewSchema>;

export const RoundViewSchema = Type.Object({
  index: Type.Integer({ description: '0-based position in the run' }),
  round: Type.Integer({ description: '1-based round number (what hospitals are told)' }),
  status: RoundStatusSchema,
  selectedHospitalIds: Type.Array(Type.String()),
  deadlineAt: NullableTimestamp,
  startedAt: NullableTimestamp,
  finishedAt: NullableTimestamp,
  durationMs: NullableInteger,
  metrics: AnyJson,
  failureReason: NullableString,
  inputModelId: NullableString,
  outputModelId: NullableString,
  updates: Type.Array(ClientUpdateViewSchema),
});
export type RoundView = Static<typeof RoundViewSchema>;

export const CancellationSchema = Type.Union(
  [
    Type.Object({
      at: Timestamp,
      by: Type.String({ description: "Who cancelled it: 'admin'" }),
      reason: NullableString,
    }),
    Type.Null(),
  ],
  { description: 'Set when the run was cancelled (POST /rounds/{id}/cancel)' },
);

const runFields = {
  id: Type.String(),
  status: RunStatusSchema,
  settings: RunSettingsSchema,
  currentRound: Type.Integer({ description: 'The round in progress, or the last one' }),
  failureReason: NullableString,
  promotionRefusedReason: Type.Union([Type.String(), Type.Null()], {
    description:
      "Set when a completed run's final model was not promoted although promote was true: why the promotion gate (settings.promotionGate) or the degenerate-model guard refused it (production was left unchanged; POST /models/{id}/promote still promotes it by hand). Null otherwise",
  }),
  cancellation: CancellationSchema,
  createdAt: Timestamp,
  startedAt: NullableTimestamp,
  finishedAt: NullableTimestamp,
};

export const RunSummarySchema = Type.Object(runFields);
export type RunSummary = Static<typeof RunSummarySchema>;

export const RunListSchema = Type.Object(
  { runs: Type.Array(RunSummarySchema) },
  { examples: [RUN_LIST_EXAMPLE] },
);
export type RunList = Static<typeof RunListSchema>;

export const RunDetailSchema = Type.Object(
  {
    ...runFields,
    classWeights: RunClassWeightsSchema,
    finalModelId: NullableString,
    privacy: Type.Union([RunPrivacySchema, Type.Null()]),
    rounds: Type.Array(RoundViewSchema),
  },
  { examples: [RUN_DETAIL_EXAMPLE] },
);
export type RunDetail = Static<typeof RunDetailSchema>;

export const CancelRunBodySchema = Type.Object(
  {
    reason: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 500,
        description: 'Why the run is cancelled (kept on the run and in the audit trail)',
      }),
    ),
  },
  { additionalProperties: false, examples: [CANCEL_RUN_EXAMPLE] },
);
export type CancelRunBody = Static<typeof CancelRunBodySchema>;
