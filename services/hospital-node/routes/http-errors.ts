import { DatasetError, ImageDecodeError } from '../../../shared/data/index.ts';
import { HttpError } from '../../../shared/service/errors.ts';
import { WeightsFormatError } from '../../../shared/weights/index.ts';
import { AggregatorError } from '../lib/aggregator-client.ts';
import { PublicError } from '../lib/errors.ts';

const STATUS: Record<string, number> = {
  'invalid-request': 400,
  'invalid-settings': 400,
  'no-validation-data': 409,
  'weights-incompatible': 422,
  'weights-mismatch': 502,
  cancelled: 503,
};

/** The HTTP answer for a failure of the node's own work; unknown errors stay 500s. */
export function toHttpError(error: unknown, describe: (error: unknown) => string): unknown {
  if (error instanceof AggregatorError) return new HttpError(502, error.code, describe(error));
  if (error instanceof WeightsFormatError)
    return new HttpError(502, 'bad-weights', describe(error));
  if (error instanceof PublicError) {
    return new HttpError(STATUS[error.code] ?? 500, error.code, describe(error));
  }
  if (error instanceof ImageDecodeError || error instanceof DatasetError) {
    return new HttpError(500, 'local-data-error', describe(error));
  }
  return error;
}
