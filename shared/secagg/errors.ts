/**
 * The one error type of the secure-aggregation core: a machine-readable code (what a REST
 * route would put in `error.code`) and a sentence saying what was refused and why.
 */
export type SecAggErrorCode =
  | 'below-threshold'
  | 'bad-config'
  | 'bad-message'
  | 'wrong-round'
  | 'unknown-client'
  | 'duplicate'
  | 'authentication-failed'
  | 'length-mismatch'
  | 'conflicting-request'
  | 'out-of-order'
  | 'reconstruction-failed'
  | 'value-out-of-range';

export class SecAggError extends Error {
  constructor(
    readonly code: SecAggErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SecAggError';
  }
}
