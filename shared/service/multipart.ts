/**
 * busboy's high-water mark for multipart part streams, for every service that reads uploads.
 * At its default (16 KiB) @fastify/busboy 3.2.6 never finishes a body whose skipped part (one
 * without `Content-Disposition: form-data`) is larger than 16 KiB and arrives in one chunk: the
 * request hangs for ever (found by test/inference-api/upload-fuzz.test.ts). Parts are consumed
 * as they arrive, so a high mark costs no memory; it only has to exceed the largest chunk busboy
 * is handed at once (a socket read is at most 64 KiB; app.inject hands over the whole body).
 */
export const PART_HIGH_WATER_MARK = 1 << 30;
