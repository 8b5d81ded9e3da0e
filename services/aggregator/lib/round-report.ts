/**
 * A finished round's figures, from its contributions and the hospitals' evaluations of the new
 * model: the training summary, the calibrated threshold, the fitted temperature, the validation
 * summary the strategy combines, and the JSON stored with the model version and with the round.
 */
import { Prisma } from '../../../shared/db/index.ts';
import type { TemperatureCalibration } from '../../../shared/metrics/index.ts';
import type { Strategy } from '../../../shared/federated/strategy.ts';
import type { Evaluation } from '../schemas/hospital-node.ts';
import type { RunClassWeights, RunSettings } from '../schemas/runs.ts';
import { trainSummary, validationSummary, type AcceptedUpdate } from './aggregation.ts';
import { calibrateThreshold, pooledMetrics, type ModelThreshold } from './calibration.ts';
import type { HospitalEvaluation } from './evaluation.ts';
import { fitRoundTemperature } from './temperature-fit.ts';
import { clipNormOfMetrics, privacyAfter } from './run-privacy.ts';

export interface UpdateNormRecord {
  hospitalId: string;
  hospital: string;
  norm: number;
  rejected: boolean;
}

export interface RoundReport {
  threshold: ModelThreshold;
  /** Temperature scaling fitted on the hospitals' validation splits (metadata.calibration). */
  calibration: TemperatureCalibration | null;
  /** Stored with the ModelVersion. */
  modelMetrics: Prisma.InputJsonObject;
  /** Stored with the Round (GET /rounds/{id}). */
  roundMetrics: Prisma.InputJsonObject;
}

export function roundReport(input: {
  round: number;
  settings: RunSettings;
  classWeights: RunClassWeights;
  strategy: Strategy;
  contributions: readonly AcceptedUpdate[];
  evaluations: readonly HospitalEvaluation[];
  updateNorms: readonly UpdateNormRecord[];
  /** The strategy's own figures of the round (Krum's scores and selection, ...). */
  strategyMetrics?: Record<string, unknown>;
}): RoundReport {
  const { settings, contributions, evaluations, strategy, round } = input;
  const train = trainSummary(contributions);
  const calibration = calibrateThreshold(settings.thresholdRule, evaluations);
  const { threshold } = calibration;
  const temperature = fitRoundTemperature(evaluations);
  const validation = validationSummary(
    evaluations.flatMap((e) => (e.evaluation ? [e.evaluation] : [])),
    calibration.pooled &&
      pooledMetrics(calibration.pooled, threshold.threshold, calibration.hospitals),
    (results) => strategy.aggregateEvaluate(round, results),
  );
  const evaluationFailures = evaluations.flatMap((e) =>
    e.error ? [{ hospitalId: e.hospitalId, hospital: e.hospitalName, error: e.error }] : [],
  );
  const samplesOf = (id: string) => contributions.find((c) => c.hospitalId === id)?.numSamples ?? 0;
  return {
    threshold,
    calibration: temperature,
    modelMetrics: toJson({ train, validation, evaluationFailures }),
    roundMetrics: toJson({
      strategy: settings.strategy,
      classWeights: input.classWeights,
      train,
      validation,
      evaluationFailures,
      threshold,
      calibration: temperature,
      updateNorms: input.updateNorms,
      ...(input.strategyMetrics &&
        Object.keys(input.strategyMetrics).length > 0 && { aggregation: input.strategyMetrics }),
      ...(settings.differentialPrivacy && {
        privacy: privacyAfter(
          settings,
          round,
          clipNormOfMetrics({ aggregation: input.strategyMetrics }),
        ),
      }),
      hospitals: evaluations.map((e) => ({
        hospitalId: e.hospitalId,
        hospital: e.hospitalName,
        numSamples: samplesOf(e.hospitalId),
        share: samplesOf(e.hospitalId) / train.numSamples,
        // Each hospital's histogram and curve stay out of GET /rounds/{id}; only the pool is used.
        validation: e.evaluation ? withoutSums(e.evaluation) : null,
      })),
    }),
  };
}

function withoutSums(evaluation: Evaluation): Omit<Evaluation, 'histogram' | 'temperature'> {
  const { histogram: _histogram, temperature: _temperature, ...metrics } = evaluation;
  return metrics;
}

function toJson(value: object): Prisma.InputJsonObject {
  return JSON.parse(JSON.stringify(value)) as Prisma.InputJsonObject;
}
