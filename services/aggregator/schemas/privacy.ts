/** The differentialPrivacy setting of POST /rounds and the privacy figures of a run (docs/privacy.md). */
import { Type, type Static } from '@sinclair/typebox';

/** Hospital-level differential privacy of a run (DP-FedAvg, docs/privacy.md). */
export const DifferentialPrivacySchema = Type.Object(
  {
    clipNorm: Type.Number({
      exclusiveMinimum: 0,
      maximum: 1e6,
      description:
        "C: each hospital's update w_j - w is clipped to this L2 norm over all its tensors before the equal-weight average",
    }),
    noiseMultiplier: Type.Number({
      exclusiveMinimum: 0,
      maximum: 1000,
      description:
        'z: Gaussian noise of standard deviation z C / m is added to every coordinate of the average of the m clipped updates',
    }),
    delta: Type.Number({
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      default: 1e-5,
      description: 'delta of the (epsilon, delta) guarantee (default 1e-5; below 1/J is advised)',
    }),
    targetEpsilon: Type.Number({
      exclusiveMinimum: 0,
      maximum: 1e6,
      description:
        'The budget: before each round the accountant computes epsilon for one more round; when it would exceed this, the run completes with the rounds so far (privacy.stopReason). A budget too small for one round is a 400',
    }),
    adaptiveClipping: Type.Optional(
      Type.Object(
        {
          targetQuantile: Type.Number({
            minimum: 0,
            maximum: 1,
            default: 0.5,
            description: 'gamma: the quantile of the update norms the clip norm tracks',
          }),
          learningRate: Type.Number({
            exclusiveMinimum: 0,
            maximum: 10,
            default: 0.2,
            description: 'eta_C: C <- C exp(-eta_C (b - gamma)) after each round',
          }),
          countNoise: Type.Number({
            exclusiveMinimum: 0,
            maximum: 1e6,
            description:
              'sigma_b: noise on the count of unclipped updates; must exceed noiseMultiplier / 2 (the update noise grows to (z^-2 - (2 sigma_b)^-2)^-1/2 so that the total stays z)',
          }),
        },
        {
          additionalProperties: false,
          description:
            "Adaptive clipping (Andrew et al. 2021; default off): clipNorm is the first round's C; after each round C moves geometrically toward the targetQuantile of the update norms, steered by the noised fraction b of unclipped updates. Each round's C is in its metrics (privacy.clipNorm, aggregation.dp.nextClipNorm) and the next round reads it from there",
        },
      ),
    ),
  },
  {
    additionalProperties: false,
    description:
      "Hospital-level differential privacy (DP-FedAvg, McMahan et al. 2018; default none). Each round's updates are clipped to clipNorm and averaged with equal weights, Gaussian noise is added (from node:crypto), and an RDP accountant of the sampled Gaussian mechanism (q = clientFraction, Poisson sampling assumed while hospitals are drawn without replacement) gives epsilon at delta after every round (privacy in GET /rounds/{id} and each round's metrics). The guarantee is about one whole hospital's participation, not about single patients; with few hospitals a small epsilon needs noise that destroys the model (docs/privacy.md). Takes fedavg or fedavgm only, and the update-norm screen is off (maxUpdateNormRatio 0): the clip bounds every hospital's influence instead",
  },
);
export type DifferentialPrivacy = Static<typeof DifferentialPrivacySchema>;

/** A DP run's privacy after its completed rounds (GET /rounds/{id}, each round's metrics). */
export const RunPrivacySchema = Type.Object(
  {
    epsilon: Type.Number({ description: 'epsilon at delta after `rounds` rounds' }),
    delta: Type.Number(),
    noiseMultiplier: Type.Number(),
    clipNorm: Type.Number(),
    targetEpsilon: Type.Number(),
    sampleRate: Type.Number({ description: "q: the accountant's sampling rate, clientFraction" }),
    rounds: Type.Integer({ description: 'Rounds counted' }),
    accountant: Type.String({ description: 'rdp-sampled-gaussian (Mironov et al. 2019)' }),
    conversion: Type.String({
      description: 'RDP to (epsilon, delta): balle-2020 (Balle et al. 2020, Theorem 21)',
    }),
    guarantee: Type.String(),
    stopReason: Type.Union([Type.String(), Type.Null()], {
      description:
        'Set when the run completed before its last round because one more round would exceed targetEpsilon',
    }),
  },
  { description: "The run's differential privacy so far; null for a run without it" },
);
export type RunPrivacy = Static<typeof RunPrivacySchema>;
