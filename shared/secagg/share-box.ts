/**
 * The two shares one client sends another (of its self-mask seed b_u and of its mask private
 * key s_u^SK), sealed with AES-256-GCM under their pairwise encryption key. The associated data
 * names the protocol, round, sender and recipient, so a share replayed into another round, to
 * another recipient or under another sender's name fails authentication.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { SecAggError } from './errors.ts';
import { PROTOCOL, fromBase64, toBase64, type EncryptedShare } from './messages.ts';
import type { RandomSource } from './random.ts';
import { SHARE_BYTES, decodeShareValue, encodeShareValue } from './shamir.ts';

export interface SharePair {
  /** Share of b_u (the self-mask seed). */
  selfMask: bigint;
  /** Share of s_u^SK (the mask private key). */
  maskKey: bigint;
}

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

function associatedData(round: string, sender: string, recipient: string): Buffer {
  return Buffer.from(JSON.stringify([PROTOCOL, 'shares', round, sender, recipient]));
}

export function sealShares(
  key: Uint8Array,
  round: string,
  sender: string,
  recipient: string,
  shares: SharePair,
  random: RandomSource,
): EncryptedShare {
  const nonce = Buffer.from(random(NONCE_BYTES));
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(associatedData(round, sender, recipient));
  const plaintext = Buffer.concat([
    encodeShareValue(shares.selfMask),
    encodeShareValue(shares.maskKey),
  ]);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { sender, recipient, nonce: toBase64(nonce), ciphertext: toBase64(ciphertext) };
}

/** Opens a share addressed to `recipient` for `round`; refuses anything that fails GCM. */
export function openShares(
  key: Uint8Array,
  round: string,
  recipient: string,
  share: EncryptedShare,
): SharePair {
  const what = `the share from ${share.sender} to ${share.recipient}`;
  const nonce = fromBase64(share.nonce, NONCE_BYTES, `${what}'s nonce`);
  const sealed = fromBase64(share.ciphertext, 2 * SHARE_BYTES + TAG_BYTES, `${what}'s ciphertext`);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(associatedData(round, share.sender, recipient));
  decipher.setAuthTag(sealed.subarray(2 * SHARE_BYTES));
  let plaintext: Buffer;
  try {
    plaintext = Buffer.concat([
      decipher.update(sealed.subarray(0, 2 * SHARE_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw new SecAggError(
      'authentication-failed',
      `${what} fails AES-GCM authentication for round ${JSON.stringify(round)} and recipient ` +
        `${recipient}: tampered, or replayed from another round or recipient`,
    );
  }
  return {
    selfMask: decodeShareValue(plaintext.subarray(0, SHARE_BYTES)),
    maskKey: decodeShareValue(plaintext.subarray(SHARE_BYTES)),
  };
}
