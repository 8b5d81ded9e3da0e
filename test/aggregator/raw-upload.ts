// Uploads to POST /rounds/:runId/updates on raw HTTP/1.1 connections: headers and part of a
// body can be sent, then held, and answers read as they come.
import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class RawConnection {
  private buffer = Buffer.alloc(0);
  private closed = false;
  private wake: (() => void) | undefined;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake?.();
    });
    socket.on('error', () => undefined); // the server closing mid-write; 'close' follows
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  static open(url: string): Promise<RawConnection> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), hostname);
      socket.once('connect', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.write(data, (error) => (error ? reject(error) : resolve())),
    );
  }

  /** The next whole answer (content-length bodies only); rejects when none comes in time. */
  async response(timeoutMs = 10_000): Promise<RawResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = this.take();
      if (parsed) return parsed;
      if (this.closed) throw new Error(`closed before an answer (got "${this.buffer}")`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no answer within ${timeoutMs} ms (got "${this.buffer}")`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** True when nothing at all has been answered within `ms` and the connection is open. */
  async silentFor(ms: number): Promise<boolean> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.buffer.length === 0 && !this.closed;
  }

  /** The raw bytes answered so far (Node's bare 408 has no content-length). */
  received(): string {
    return this.buffer.toString('latin1');
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Hangs up at once, as a client that gives up. */
  abort(): void {
    this.socket.destroy();
  }

  private take(): RawResponse | undefined {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const [statusLine, ...lines] = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    if (this.buffer.length < end + 4 + length) return undefined;
    const body = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
    this.buffer = this.buffer.subarray(end + 4 + length);
    return { status: Number(statusLine.split(' ')[1]), headers, body };
  }
}

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
