import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Slots that requests take in an onRequest hook, before any of the body is read, and give back
 * once: the callers decide what a slot is (a place under a cap, a key's single upload) and what
 * a refusal answers; this is how long a slot is held.
 *
 * A slot is held by the exchange (until the response has been sent, or the response or its
 * connection closed first: client abort, 408 request timeout, socket error) and, while it runs,
 * by the handler (`run`): a client that sends its whole upload and hangs up leaves a handler
 * still working on it, and that memory must stay counted until the handler is done. `release`
 * is called once, when both are over.
 */
export class RequestSlots {
  private readonly byRequest = new WeakMap<FastifyRequest, Slot>();

  /** Gives `request` a slot, held as above; `release` is called once when it is given back. */
  take(request: FastifyRequest, reply: FastifyReply, release: () => void): void {
    const slot = new Slot(release);
    this.byRequest.set(request, slot);
    onExchangeOver(request, reply, () => slot.exchangeOver());
  }

  /** Runs the handler's work holding the request's slot (if it has one) until it settles. */
  async run<T>(request: FastifyRequest, work: () => Promise<T>): Promise<T> {
    const done = this.byRequest.get(request)?.hold();
    try {
      return await work();
    } finally {
      done?.();
    }
  }
}

/** Calls `over` once, when the exchange of `request` is over (at once if it already is). */
function onExchangeOver(request: FastifyRequest, reply: FastifyReply, over: () => void): void {
  const res = reply.raw;
  const socket = request.raw.socket;
  // 'finish': the answer was handed to the OS. 'close' on the response: it ended, or its
  // connection went first. The socket's 'close': a pipelined request whose response is queued
  // behind another's gets neither event when the connection drops (checked on Node 20).
  const exchangeOver = (): void => {
    res.off('finish', exchangeOver);
    res.off('close', exchangeOver);
    socket.off('close', exchangeOver);
    over();
  };
  res.once('finish', exchangeOver);
  res.once('close', exchangeOver);
  socket.once('close', exchangeOver);
  // A hook may have awaited something (the database) before this: the client may be gone already.
  if (res.closed || res.writableFinished || socket.destroyed) exchangeOver();
}

/** One request's slot: released when the exchange is over and no handler holds it. */
class Slot {
  private holders = 1; // the exchange
  private exchangeDone = false;

  constructor(private readonly release: () => void) {}

  exchangeOver(): void {
    if (this.exchangeDone) return;
    this.exchangeDone = true;
    this.drop();
  }

  /** A hold on the slot, or undefined once it was released; call the result once done. */
  hold(): (() => void) | undefined {
    if (this.holders === 0) return undefined;
    this.holders++;
    let dropped = false;
    return () => {
      if (dropped) return;
      dropped = true;
      this.drop();
    };
  }

  private drop(): void {
    this.holders--;
    if (this.holders === 0) this.release();
  }
}
