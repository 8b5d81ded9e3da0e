// Uploads to POST /rounds/:runId/updates on raw HTTP/1.1 connections (../helpers/raw-http.ts):
// headers and part of a body can be sent, then held, and answers read as they come.
import { RawConnection, type RawResponse } from '../helpers/raw-http.ts';

export type { RawResponse };

const BOUNDARY = 'fedxray-raw-upload';

/** A multipart update form: `meta` (sent as is) and a `weights` file of `weightBytes` zeros. */
export function updateForm(meta: unknown, weightBytes: number): Buffer {
  return Buffer.concat([
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="meta"\r\n\r\n` +
        `${JSON.stringify(meta)}\r\n` +
        `--${BOUNDARY}\r\nContent-Disposition: form-data; name="weights"; filename="weights.fxw"\r\n` +
        'Content-Type: application/vnd.fedxray.weights\r\n\r\n',
    ),
    Buffer.alloc(weightBytes),
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
}

/** The request head of an upload of `bodyLength` bytes to run `runId`. */
export function uploadHead(runId: string, token: string, bodyLength: number): string {
  return (
    `POST /rounds/${runId}/updates HTTP/1.1\r\n` +
    'host: 127.0.0.1\r\n' +
    `authorization: Bearer ${token}\r\n` +
    `content-type: multipart/form-data; boundary=${BOUNDARY}\r\n` +
    `content-length: ${bodyLength}\r\n\r\n`
  );
}

/** An upload that sent its headers and the first `sent` bytes of its body, and now waits. */
export interface HeldUpload {
  connection: RawConnection;
  /** Sends the rest of the body; resolves the answer. */
  complete(): Promise<RawResponse>;
}

/**
 * Starts an upload of `form` and holds it after `sent` bytes of the body (0: headers only). Its
 * `meta` should be refused once read (e.g. `{}`: 400 invalid-meta) so that completing it
 * changes nothing.
 */
export async function holdUpload(
  url: string,
  runId: string,
  token: string,
  form: Buffer,
  sent: number,
): Promise<HeldUpload> {
  const connection = await RawConnection.open(url);
  await connection.write(
    Buffer.concat([Buffer.from(uploadHead(runId, token, form.length)), form.subarray(0, sent)]),
  );
  return {
    connection,
    complete: async () => {
      await connection.write(form.subarray(sent));
      return connection.response();
    },
  };
}

/** A whole upload of `form` on a connection of its own; the answer. */
export async function sendUpload(
  url: string,
  runId: string,
  token: string,
  form: Buffer,
): Promise<RawResponse> {
  const held = await holdUpload(url, runId, token, form, 0);
  try {
    return await held.complete();
  } finally {
    held.connection.abort();
  }
}
