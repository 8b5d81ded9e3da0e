import { HttpError } from '../../../shared/service/errors.ts';

export function noModel(details?: Record<string, unknown>): HttpError {
  return new HttpError(503, 'no-model', 'no model is loaded yet; try again shortly', details);
}
