import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * One upload in flight per key (a hospital's id), so a hospital holds at most one update body
 * (up to MAX_UPDATE_BYTES) in memory at a time. The route's onRequest hook takes the slot before
 * any of the body is read, or the request is refused.
 *
 * A slot is held by the exchange (until the response has been sent, or the response or its
 * connection closed first: client abort, 408 request timeout, socket error) and, while it runs,
 * by the handler (`run`): a client that sends its whole upload and hangs up leaves a handler
 * still checking and storing it, and that memory must stay counted until the handler is done.
 * It is given back once, when both are over.
 */
export class UploadSlots {
  private readonly held = new Map<string, Slot>();
  private readonly byRequest = new WeakMap<FastifyRequest, Slot>();

  /** Keys holding a slot now. */
  get count(): number {
    return this.held.size;
  }

  /** Takes `key`'s slot for this request; false while another request holds it. */
  tryTake(key: string, request: FastifyRequest, reply: FastifyReply): boolean {
    if (this.held.has(key)) return false;
    const slot: Slot = new Slot(() => {
      if (this.held.get(key) === slot) this.held.delete(key);
    });
    this.held.set(key, slot);
    this.byRequest.set(request, slot);
    const res = reply.raw;
    const socket = request.raw.socket;
    // 'finish': the answer was handed to the OS. 'close' on the response: it ended, or its
    // connection went first. The socket's 'close': a pipelined request whose response is queued
    // behind another's gets neither event when the connection drops.
    const exchangeOver = (): void => {
      res.off('finish', exchangeOver);
      res.off('close', exchangeOver);
      socket.off('close', exchangeOver);
      slot.exchangeOver();
    };
    res.once('finish', exchangeOver);
    res.once('close', exchangeOver);
    socket.once('close', exchangeOver);
    // The hook awaited the database before this: the client may be gone already.
    if (res.closed || res.writableFinished || socket.destroyed) exchangeOver();
    return true;
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
