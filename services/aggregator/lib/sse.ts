import type { FastifyReply, FastifyRequest } from 'fastify';

export interface EventStream {
  send(event: string, data: unknown): void;
  close(): void;
  /** Resolves when the stream ends, from either side. */
  readonly closed: Promise<void>;
}

/**
 * Takes over the response for server-sent events (text/event-stream): each `send` writes one
 * `event:`/`data:` message; a comment line every `keepAliveMs` keeps proxies from closing an
 * idle connection.
 */
export function openEventStream(
  request: FastifyRequest,
  reply: FastifyReply,
  keepAliveMs: number,
): EventStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-request-id': request.id,
  });
  res.write(': fedxray run events\n\n');

  let done = false;
  let resolveClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), keepAliveMs);
  const finish = (): void => {
    if (done) return;
    done = true;
    clearInterval(keepAlive);
    resolveClosed();
  };
  // The response's close: the stream ended or the client went away (a request's own 'close'
  // fires as soon as its body is read).
  res.on('close', finish);

  return {
    send(event, data) {
      if (done) return;
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    close() {
      if (done) return;
      finish();
      res.end();
    },
    closed,
  };
}
