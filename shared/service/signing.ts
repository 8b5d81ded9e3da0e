import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { hashToken } from './auth.ts';

/**
 * Requests from the aggregator to a hospital node are signed, not sent with the hospital's
 * token: the aggregator stores only the token's SHA-256 (auth.ts hashToken), and that hash is
 * the HMAC key both sides can compute. The signature covers a timestamp, the method, the path
 * and the body, so a captured request cannot be replayed later or against another route.
 *
 *   x-fedxray-signature: t=<unix ms>,v1=<hex HMAC-SHA256(key, "<t>.<METHOD> <path>.<sha256(body)>")>
 */
export const SIGNATURE_HEADER = 'x-fedxray-signature';
export const SIGNATURE_MAX_SKEW_MS = 5 * 60 * 1000;

function payload(
  timestamp: number,
  method: string,
  path: string,
  body: string | Uint8Array,
): string {
  const bodyHash = createHash('sha256').update(body).digest('hex');
  return `${timestamp}.${method.toUpperCase()} ${path}.${bodyHash}`;
}

/** The header value for a request, signed with the hospital token's hash (what the aggregator stores). */
export function signRequest(
  tokenHash: string,
  method: string,
  path: string,
  body: string | Uint8Array,
  now: number = Date.now(),
): string {
  const mac = createHmac('sha256', tokenHash)
    .update(payload(now, method, path, body))
    .digest('hex');
  return `t=${now},v1=${mac}`;
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/** Checks a request's signature on the hospital node, which knows the token itself. */
export function verifySignature(
  token: string,
  header: string | undefined,
  method: string,
  path: string,
  body: string | Uint8Array,
  now: number = Date.now(),
): SignatureCheck {
  if (!header) return { ok: false, reason: `missing ${SIGNATURE_HEADER} header` };
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header.trim());
  if (!match) return { ok: false, reason: `malformed ${SIGNATURE_HEADER} header` };
  const timestamp = Number(match[1]);
  if (Math.abs(now - timestamp) > SIGNATURE_MAX_SKEW_MS) {
    return { ok: false, reason: 'signature timestamp is too old or in the future' };
  }
  const expected = signRequest(hashToken(token), method, path, body, timestamp).slice(-64);
  const ok = timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(match[2], 'hex'));
  return ok ? { ok: true } : { ok: false, reason: 'signature does not match' };
}
