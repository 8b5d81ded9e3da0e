/**
 * Authenticating a masked input: an HMAC-SHA256 over the protocol, round, client id, length
 * and the SHA-256 of the words, under a key the client and the server share (in the services,
 * the hospital token's SHA-256, as shared/service/signing.ts uses). The server refuses a
 * masked input of another round, of another length (truncated), or whose MAC or hash fails.
 * Also the binary wire form: "FXSA" | uint32 LE header length | header JSON | words (LE).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { SecAggError } from './errors.ts';
import { PROTOCOL, checkRound, type MaskedInput, type MaskedInputHeader } from './messages.ts';
import { bytesOf, wordsOf } from './words.ts';

const MAGIC = Buffer.from('FXSA');

function mac(authKey: Uint8Array, header: Omit<MaskedInputHeader, 'mac'>): string {
  const fields = [
    PROTOCOL,
    'masked-input',
    header.round,
    header.clientId,
    header.length,
    header.sha256,
  ];
  return createHmac('sha256', authKey).update(JSON.stringify(fields)).digest('hex');
}

const digest = (values: Uint32Array): string =>
  createHash('sha256').update(bytesOf(values)).digest('hex');

export function sealMaskedInput(
  values: Uint32Array,
  round: string,
  clientId: string,
  authKey: Uint8Array,
): MaskedInput {
  const unsigned = {
    protocol: PROTOCOL,
    round,
    clientId,
    length: values.length,
    sha256: digest(values),
  } as const;
  return { header: { ...unsigned, mac: mac(authKey, unsigned) }, values };
}

export function verifyMaskedInput(
  input: MaskedInput,
  round: string,
  length: number,
  authKey: Uint8Array,
): void {
  const { header } = input;
  const what = `the masked input of ${header.clientId}`;
  checkRound(header, round, what);
  if (header.length !== length) {
    throw new SecAggError(
      'length-mismatch',
      `${what} declares ${header.length} coordinates, the round has ${length}`,
    );
  }
  if (input.values.length !== header.length) {
    throw new SecAggError(
      'length-mismatch',
      `${what} is truncated: ${input.values.length} of the ${header.length} coordinates it declares`,
    );
  }
  const expected = Buffer.from(mac(authKey, header), 'hex');
  const given = Buffer.from(String(header.mac), 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new SecAggError(
      'authentication-failed',
      `${what} has a MAC that does not match its header`,
    );
  }
  if (digest(input.values) !== header.sha256) {
    throw new SecAggError('authentication-failed', `${what} does not match its SHA-256`);
  }
}

function checkHeader(value: unknown): MaskedInputHeader {
  const h = (value ?? {}) as Record<string, unknown>;
  const strings = ['protocol', 'round', 'clientId', 'sha256', 'mac'];
  if (strings.some((key) => typeof h[key] !== 'string') || !Number.isInteger(h.length)) {
    throw new SecAggError('bad-message', "the masked input's header lacks a field");
  }
  return h as unknown as MaskedInputHeader;
}

export function encodeMaskedInput(input: MaskedInput): Buffer {
  const header = Buffer.from(JSON.stringify(input.header));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  return Buffer.concat([MAGIC, length, header, bytesOf(input.values)]);
}

export function decodeMaskedInput(body: Uint8Array): MaskedInput {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (bytes.length < 8 || !bytes.subarray(0, 4).equals(MAGIC)) {
    throw new SecAggError('bad-message', 'not a masked input (no FXSA header)');
  }
  const headerLength = bytes.readUInt32LE(4);
  if (8 + headerLength > bytes.length) {
    throw new SecAggError('bad-message', 'the masked input is shorter than its header');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  } catch {
    throw new SecAggError('bad-message', "the masked input's header is not JSON");
  }
  const header = checkHeader(parsed);
  const rest = bytes.subarray(8 + headerLength);
  // A trailing partial word is cut off here and then refused as truncated by verifyMaskedInput.
  return { header, values: wordsOf(rest.subarray(0, rest.length - (rest.length % 4))) };
}
