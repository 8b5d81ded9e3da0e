/**
 * A round's temperature scaling: the NLL curves the hospitals answered with their evaluation
 * of the new model (POST /evaluate's `temperature`) summed, and the temperature minimising the
 * pooled NLL stored with the model version (metadata.calibration). A curve that does not add
 * up is left out with the reason, like a histogram in calibration.ts.
 */
import {
  calibrateTemperature,
  curveProblem,
  mergeTemperatureCurves,
  RELIABILITY_BINS,
  TEMPERATURE_GRID,
  type TemperatureCalibration,
  type TemperatureCurve,
} from '../../../shared/metrics/index.ts';
import type { HospitalAnswer } from './calibration.ts';

/** The fitted temperature, or null when no hospital answered a usable curve. */
export function fitRoundTemperature(
  answers: readonly HospitalAnswer[],
): TemperatureCalibration | null {
  const usable: TemperatureCurve[] = [];
  const excluded: TemperatureCalibration['basis']['excluded'] = [];
  for (const answer of answers) {
    const curve = usableCurve(answer);
    if (typeof curve === 'string') {
      excluded.push({
        hospitalId: answer.hospitalId,
        hospital: answer.hospitalName,
        reason: curve,
      });
    } else {
      usable.push(curve);
    }
  }
  if (usable.length === 0) return null;
  return calibrateTemperature(mergeTemperatureCurves(usable), {
    hospitals: usable.length,
    excluded,
  });
}

/** The answer's curve, or why it cannot be pooled. */
function usableCurve(answer: HospitalAnswer): TemperatureCurve | string {
  const evaluation = answer.evaluation;
  if (!evaluation) return 'its evaluation failed';
  const curve = evaluation.temperature;
  if (!curve) return 'its answer has no temperature curve (a node older than calibration)';
  return (
    curveProblem(curve, {
      temperatures: TEMPERATURE_GRID,
      bins: RELIABILITY_BINS,
      images: evaluation.n,
    }) ?? curve
  );
}
