import { ImageDecodeError, DatasetError } from '../../../shared/data/index.ts';
import { WeightsFormatError } from '../../../shared/weights/index.ts';

/** An error whose message is safe to show outside the hospital: it names no local data. */
export class PublicError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'PublicError';
  }
}

/**
 * What a failure may say outside the hospital. Messages about local images are replaced by
 * their category (decode errors name the file); anything else is scrubbed of every local
 * path, file name and patient id as a second line of defence.
 */
export function publicMessage(error: unknown, identifiers: readonly string[]): string {
  if (error instanceof PublicError || error instanceof WeightsFormatError) {
    return scrub(error.message, identifiers);
  }
  if (error instanceof ImageDecodeError) return `a local image could not be read (${error.code})`;
  if (error instanceof DatasetError) return 'the local dataset could not be read';
  const message = error instanceof Error ? error.message : String(error);
  return scrub(message, identifiers);
}

const SHORT_ID = 6;

/** Replaces each identifier (longest first; short ones only as whole tokens) by [redacted]. */
export function scrub(message: string, identifiers: readonly string[]): string {
  const sorted = [...identifiers].sort((a, b) => b.length - a.length);
  let out = message;
  for (const id of sorted) {
    if (!out.includes(id)) continue;
    if (id.length >= SHORT_ID) {
      out = out.split(id).join('[redacted]');
    } else {
      const escaped = id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      out = out.replace(new RegExp(`(?<![A-Za-z0-9])${escaped}(?![A-Za-z0-9])`, 'g'), '[redacted]');
    }
  }
  return out;
}
