import type { Readable } from 'node:stream';
import type { onRequestAsyncHookHandler } from 'fastify';
import { HttpError } from '../../../shared/service/errors.ts';
import {
  SIGNATURE_HEADER,
  SIGNATURE_MAX_SKEW_MS,
  verifySignature,
} from '../../../shared/service/signing.ts';

/** The node's body limit (fastify's default): larger signed bodies are refused unread. */
export const MAX_SIGNED_BODY_BYTES = 1 << 20;

const HEADER_FORMAT = /^t=(\d+),v1=[0-9a-f]{64}$/;

/**
 * An onRequest hook admitting only requests signed by the aggregator: `x-fedxray-signature`,
 * an HMAC keyed by the hash of HOSPITAL_TOKEN (the one in force: HOSPITAL_TOKEN_FILE rotates) over a timestamp, the method, the path and the
 * body (shared/service/signing.ts). The header is checked before anything is read, so
 * strangers cannot make the node read or parse a body; the body (at most 1 MiB, with a
 * content-length) is then read ahead, verified, and put back for fastify to parse.
 */
export function requireToken(token: string | (() => string)): onRequestAsyncHookHandler {
  const current = typeof token === 'string' ? () => token : token;
  return async (request, reply) => {
    const refuse = (reason: string): HttpError => {
      reply.header('www-authenticate', 'FedXray-Signature');
      return new HttpError(
        401,
        'unauthorized',
        `this route needs a request signed by the aggregator (${SIGNATURE_HEADER}): ${reason}`,
      );
    };
    const header = request.headers[SIGNATURE_HEADER];
    if (typeof header !== 'string') throw refuse(`missing ${SIGNATURE_HEADER} header`);
    const match = HEADER_FORMAT.exec(header.trim());
    if (!match) throw refuse(`malformed ${SIGNATURE_HEADER} header`);
    if (Math.abs(Date.now() - Number(match[1])) > SIGNATURE_MAX_SKEW_MS) {
      throw refuse('signature timestamp is too old or in the future');
    }

    const lengthHeader = request.headers['content-length'];
    if (lengthHeader === undefined && request.headers['transfer-encoding'] !== undefined) {
      throw new HttpError(411, 'length-required', 'a signed request needs a content-length');
    }
    const length = Number(lengthHeader ?? 0);
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new HttpError(400, 'invalid-request', 'invalid content-length');
    }
    if (length > MAX_SIGNED_BODY_BYTES) {
      throw new HttpError(
        413,
        'body-too-large',
        `the body is larger than ${MAX_SIGNED_BODY_BYTES} bytes`,
      );
    }
    const body = await peekBody(request.raw, length);
    const check = verifySignature(current(), header, request.method, request.url, body);
    if (!check.ok) throw refuse(check.reason);
  };
}

/**
 * Reads `length` bytes of a request body and puts them back (Readable#unshift), so the body
 * parser that runs later still gets the whole body.
 */
function peekBody(stream: Readable, length: number): Promise<Buffer> {
  if (length === 0) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    function onReadable(): void {
      const chunk = stream.read(length) as Buffer | null;
      if (chunk === null) return;
      cleanup();
      stream.unshift(chunk);
      resolve(chunk);
    }
    function onEnd(): void {
      cleanup();
      reject(new HttpError(400, 'invalid-request', 'the body ended before its content-length'));
    }
    function onError(error: Error): void {
      cleanup();
      reject(error);
    }
    stream.on('readable', onReadable);
    stream.on('end', onEnd);
    stream.on('error', onError);
  });
}
