/**
 * Byte buffers seen as little-endian uint32 words. The masks and masked inputs are defined as
 * little-endian words; a typed-array view is that only on a little-endian host, so a
 * big-endian one is refused rather than silently computing different masks.
 */
import { endianness } from 'node:os';
import { SecAggError } from './errors.ts';

if (endianness() !== 'LE') {
  throw new SecAggError('bad-config', 'secure aggregation needs a little-endian host');
}

/** A Uint32Array over the buffer's bytes, copied first when the buffer is not 4-byte aligned. */
export function wordsOf(bytes: Uint8Array): Uint32Array {
  if (bytes.byteLength % 4 !== 0) {
    throw new SecAggError(
      'bad-message',
      `${bytes.byteLength} bytes is not a whole number of words`,
    );
  }
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : Uint8Array.from(bytes);
  return new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
}

/** The words' bytes, without a copy. */
export function bytesOf(words: Uint32Array): Buffer {
  return Buffer.from(words.buffer, words.byteOffset, words.byteLength);
}
