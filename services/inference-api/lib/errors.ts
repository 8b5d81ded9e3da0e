import { HttpError } from '../../../shared/service/errors.ts';

export function noModel(details?: Record<string, unknown>): HttpError {
  return new HttpError(503, 'no-model', 'no model is loaded yet; try again shortly', details);
}

/** MAX_CONCURRENT_DIAGNOSES requests are in flight (lib/in-flight.ts). */
export function busy(maxConcurrentDiagnoses: number, retryAfterSeconds: number): HttpError {
  return new HttpError(
    503,
    'busy',
    `${maxConcurrentDiagnoses} diagnoses are in flight, the most this service takes at once; retry in ${retryAfterSeconds} s`,
    { maxConcurrentDiagnoses, retryAfterSeconds },
  );
}
