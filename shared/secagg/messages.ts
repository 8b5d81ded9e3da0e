/**
 * The messages of one secure-aggregation round (Bonawitz et al. 2017, semi-honest variant),
 * JSON-ready (keys and ciphertexts as base64url) except the masked vector, which travels as
 * binary (masked-input.ts). Each names the protocol and the round it belongs to.
 *
 *   0 AdvertiseKeys  client -> server   two public keys          server -> clients  Roster
 *   1 ShareKeys      client -> server   encrypted shares         server -> clients  ShareInbox
 *   2 MaskedInput    client -> server   masked, authenticated vector
 *   3 Unmasking      server -> clients  UnmaskRequest            client -> server   UnmaskResponse
 */
import { SecAggError } from './errors.ts';
import { groupSize } from './graph.ts';
import { checkParams, type QuantizationParams } from './quantize.ts';

export const PROTOCOL = 'fedxray-secagg-v1';

/** What every client must agree on; chosen by the server, sent with the roster. */
export interface RoundConfig {
  /** Unique per round of a run (e.g. `${runId}:${round}`): bound into every key, AAD and MAC. */
  round: string;
  /** t: shares needed to reconstruct a secret; also the fewest clients a stage may go on with. */
  threshold: number;
  /** k, even: SecAgg+ with k neighbours per client (graph.ts); absent, every client with every other. */
  neighbours?: number;
  /** Coordinates of the (flattened) update. */
  vectorLength: number;
  quantization: QuantizationParams;
}

export interface AdvertiseKeys {
  protocol: typeof PROTOCOL;
  round: string;
  clientId: string;
  /** s_u^PK, for the pairwise mask seeds. */
  maskPublicKey: string;
  /** c_u^PK, for the keys the shares are encrypted under. */
  encryptionPublicKey: string;
}

export interface RosterEntry {
  clientId: string;
  /** The client's Shamir x-coordinate, 1..n in the roster's order. */
  index: number;
  maskPublicKey: string;
  encryptionPublicKey: string;
}

export interface Roster {
  protocol: typeof PROTOCOL;
  config: RoundConfig;
  /** U1, sorted by clientId. */
  clients: RosterEntry[];
}

export interface EncryptedShare {
  sender: string;
  recipient: string;
  nonce: string;
  /** AES-256-GCM ciphertext of the two share values, with the 16-byte tag appended. */
  ciphertext: string;
}

export interface ShareKeys {
  protocol: typeof PROTOCOL;
  round: string;
  clientId: string;
  /** One per other client of the roster. */
  shares: EncryptedShare[];
  /** Hex SHA-256 commitment to b_u (keys.ts selfMaskCommitment). */
  selfMaskCommitment: string;
}

export interface ShareInbox {
  protocol: typeof PROTOCOL;
  round: string;
  recipient: string;
  /** U2: every client whose shares the server received (the recipient included). */
  senders: string[];
  /** The shares addressed to the recipient, one per other member of U2. */
  shares: EncryptedShare[];
}

export interface MaskedInputHeader {
  protocol: typeof PROTOCOL;
  round: string;
  clientId: string;
  length: number;
  /** Hex SHA-256 of the masked words' bytes. */
  sha256: string;
  /** Hex HMAC-SHA256 over the fields above, under the client's authentication key. */
  mac: string;
}

export interface MaskedInput {
  header: MaskedInputHeader;
  values: Uint32Array;
}

export interface UnmaskRequest {
  protocol: typeof PROTOCOL;
  round: string;
  /** U3: the clients whose masked input the server holds. */
  survivors: string[];
  /** U2 \ U3: sent shares, never a masked input. */
  dropped: string[];
}

export interface RevealedShare {
  /** The client whose secret this is a share of. */
  owner: string;
  /** The revealing client's index. */
  x: number;
  /** The share value, 66 bytes big-endian, base64url. */
  y: string;
}

export interface UnmaskResponse {
  protocol: typeof PROTOCOL;
  round: string;
  clientId: string;
  /** Shares of b_v for every survivor v. */
  selfMaskShares: RevealedShare[];
  /** Shares of s_v^SK for every dropped v. */
  maskKeyShares: RevealedShare[];
}

export const toBase64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

export function fromBase64(text: string, bytes: number, what: string): Buffer {
  const value = typeof text === 'string' ? Buffer.from(text, 'base64url') : Buffer.alloc(0);
  if (value.length !== bytes || value.toString('base64url') !== text) {
    throw new SecAggError('bad-message', `${what} is not ${bytes} bytes of base64url`);
  }
  return value;
}

/** Refuses a message of another protocol or round before anything else is read. */
export function checkRound(
  message: { protocol: string; round: string },
  round: string,
  what: string,
): void {
  if (message.protocol !== PROTOCOL) {
    throw new SecAggError('bad-message', `${what} is not a ${PROTOCOL} message`);
  }
  if (message.round !== round) {
    throw new SecAggError(
      'wrong-round',
      `${what} is for round ${JSON.stringify(message.round)}, this is round ${JSON.stringify(round)}`,
    );
  }
}

export function checkClientId(id: string): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > 200) {
    throw new SecAggError('bad-message', 'a client id is a string of 1 to 200 characters');
  }
}

export function checkConfig(config: RoundConfig, clients: number): void {
  checkClientId(config.round);
  checkParams(config.quantization);
  if (!Number.isInteger(config.vectorLength) || config.vectorLength < 1) {
    throw new SecAggError('bad-config', `vectorLength must be a positive integer`);
  }
  const k = config.neighbours;
  if (k !== undefined && (!Number.isInteger(k) || k < 2 || k % 2 !== 0)) {
    throw new SecAggError('bad-config', `neighbours must be an even integer >= 2, got ${k}`);
  }
  const group = groupSize(clients, k);
  if (!Number.isInteger(config.threshold) || config.threshold < 2 || config.threshold > group) {
    throw new SecAggError(
      'bad-config',
      `threshold ${config.threshold} must be an integer in [2, ${group}] (a client and its neighbours)`,
    );
  }
  if (config.quantization.maxClients < clients) {
    throw new SecAggError(
      'bad-config',
      `the quantisation is sized for ${config.quantization.maxClients} clients, the roster has ${clients}`,
    );
  }
}
