/**
 * A model's calibration as stored in its metadata (`metadata.calibration`): the aggregator
 * writes it after a round's evaluation, `fedxray simulate` into model.json, and the inference
 * API reads the temperature back. The shape of TemperatureCalibration in
 * shared/metrics/temperature-scaling.ts (test/metrics/temperature-scaling.test.ts checks both agree).
 */
import { Type, type Static } from '@sinclair/typebox';

const NullableNumber = Type.Union([Type.Number(), Type.Null()]);

export const ReliabilityBinSchema = Type.Object({
  lower: Type.Number(),
  upper: Type.Number(),
  count: Type.Integer({ minimum: 0 }),
  meanProbability: NullableNumber,
  positiveRate: NullableNumber,
});

export const TemperatureCalibrationSchema = Type.Object(
  {
    method: Type.Literal('temperature', { description: 'Temperature scaling (Guo et al. 2017)' }),
    temperature: Type.Number({
      exclusiveMinimum: 0,
      description: 'Calibrated P(PNEUMONIA) = sigmoid(logit(p) / temperature)',
    }),
    nllBefore: Type.Number({ description: 'Mean NLL per held-out image (nats) at T = 1' }),
    nllAfter: Type.Number({ description: 'Mean NLL per held-out image at afterTemperature' }),
    eceBefore: Type.Number({
      description: 'Expected calibration error of P(PNEUMONIA), 10 equal-width bins, at T = 1',
    }),
    eceAfter: Type.Number({ description: 'The same at afterTemperature' }),
    afterTemperature: Type.Number({
      description:
        'The grid temperature nearest `temperature` (within 1.8%), where the after figures are measured',
    }),
    reliabilityBefore: Type.Array(ReliabilityBinSchema, {
      description: 'Reliability diagram at T = 1: per bin of P(PNEUMONIA), the share of PNEUMONIA',
    }),
    reliabilityAfter: Type.Array(ReliabilityBinSchema, {
      description: 'Reliability diagram of the tempered probability at afterTemperature',
    }),
    basis: Type.Object(
      {
        hospitals: Type.Integer(),
        images: Type.Integer(),
        positives: Type.Integer({ description: 'PNEUMONIA images' }),
        excluded: Type.Array(
          Type.Object({
            hospitalId: Type.String(),
            hospital: Type.String(),
            reason: Type.String(),
          }),
          { description: 'Hospitals left out of the fit, and why' },
        ),
      },
      { description: "The hospitals' held-out images the temperature was fitted on" },
    ),
    description: Type.String(),
  },
  {
    description:
      "Temperature scaling fitted on the hospitals' held-out splits; /diagnose reports " +
      'probabilities in this scale. Absent: probabilities are the raw model output',
  },
);
export type StoredTemperatureCalibration = Static<typeof TemperatureCalibrationSchema>;
