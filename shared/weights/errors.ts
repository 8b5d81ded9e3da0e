export type WeightsErrorCode =
  /** The manifest is not a well-formed fedxray-weights manifest (or the entries do not tile the blob). */
  | 'bad-manifest'
  | 'unsupported-version'
  | 'checksum-mismatch'
  /** A length disagrees: blob vs manifest, entry vs shape, or data vs shape. */
  | 'size-mismatch'
  /** encodeWeights was given invalid tensors (bad name, shape or duplicate). */
  | 'bad-input';

export class WeightsFormatError extends Error {
  readonly code: WeightsErrorCode;

  constructor(code: WeightsErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'WeightsFormatError';
    this.code = code;
  }
}
