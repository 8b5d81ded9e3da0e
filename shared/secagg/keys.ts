/**
 * X25519 key pairs (raw 32-byte keys, so messages carry them as plain base64url), the pairwise
 * Diffie-Hellman secret and HKDF-SHA256 keys bound to their purpose, the round and both
 * client ids: the same two keys give unrelated mask seeds and share keys in every round.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  type KeyObject,
} from 'node:crypto';
import { SecAggError } from './errors.ts';
import type { RandomSource } from './random.ts';

export interface KeyPair {
  publicKey: Buffer;
  privateKey: Buffer;
}

export type KeyPurpose = 'mask' | 'encryption';

// DER wrappers of a raw X25519 key (RFC 8410): PKCS#8 for the private, SPKI for the public.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const HKDF_SALT = Buffer.from('fedxray-secagg-v1');

function privateKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new SecAggError('bad-message', 'an X25519 private key is 32 bytes');
  return createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, raw]),
    format: 'der',
    type: 'pkcs8',
  });
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new SecAggError('bad-message', 'an X25519 public key is 32 bytes');
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** The public key of a raw private key (also how a reconstructed s_u^SK is checked). */
export function publicKeyOf(privateKey: Uint8Array): Buffer {
  const spki = createPublicKey(privateKeyObject(privateKey)).export({
    format: 'der',
    type: 'spki',
  });
  return Buffer.from(spki.subarray(SPKI_PREFIX.length));
}

export function generateKeyPair(random: RandomSource): KeyPair {
  const privateKey = Buffer.from(random(32));
  return { privateKey, publicKey: publicKeyOf(privateKey) };
}

export function sharedSecret(privateKey: Uint8Array, peerPublicKey: Uint8Array): Buffer {
  const lowOrder = () =>
    new SecAggError('bad-message', 'a public key of low order gives no shared secret');
  let secret: Buffer;
  try {
    secret = diffieHellman({
      privateKey: privateKeyObject(privateKey),
      publicKey: publicKeyObject(peerPublicKey),
    });
  } catch {
    // OpenSSL refuses the all-zero result of a low-order public key itself.
    throw lowOrder();
  }
  if (secret.every((byte) => byte === 0)) throw lowOrder();
  return secret;
}

/** The 32-byte key for (purpose, round, {a, b}); symmetric in a and b. */
export function deriveKey(
  secret: Uint8Array,
  purpose: KeyPurpose,
  round: string,
  a: string,
  b: string,
): Buffer {
  const [lo, hi] = a < b ? [a, b] : [b, a];
  const info = Buffer.from(JSON.stringify(['fedxray-secagg-v1', purpose, round, lo, hi]));
  return Buffer.from(hkdfSync('sha256', secret, HKDF_SALT, info, 32));
}

/**
 * The commitment to a self-mask seed b_u sent with the shares: the server checks the b_u it
 * rebuilds against it, so a wrong share is caught even when exactly t answers arrive.
 */
export function selfMaskCommitment(round: string, clientId: string, seed: Uint8Array): string {
  return createHash('sha256')
    .update(JSON.stringify(['fedxray-secagg-v1', 'self-mask', round, clientId]))
    .update(seed)
    .digest('hex');
}

/** The pairwise key of two clients from one side: my private key, the peer's public key. */
export function pairwiseKey(
  myPrivateKey: Uint8Array,
  peerPublicKey: Uint8Array,
  purpose: KeyPurpose,
  round: string,
  me: string,
  peer: string,
): Buffer {
  return deriveKey(sharedSecret(myPrivateKey, peerPublicKey), purpose, round, me, peer);
}
