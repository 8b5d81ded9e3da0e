import type { FastifyReply, FastifyRequest } from 'fastify';
import { busy } from './errors.ts';

/** What a caller refused as busy is told to wait (`retry-after`, seconds). */
export const BUSY_RETRY_AFTER_SECONDS = 1;

/** The most MAX_CONCURRENT_DIAGNOSES may be. */
export const MAX_CONCURRENT_DIAGNOSES_LIMIT = 10_000;

/**
 * A cap on the POST /diagnose requests in flight, so memory under a flood is bounded by
 * max x MAX_UPLOAD_BYTES (each waiting request holds its upload and, later, its decoded image).
 * The onRequest hook takes a slot before any of the body is read, or answers 503 `busy`.
 *
 * A slot is held by the exchange (until the response has been sent, or the response or its
 * connection closed first: client abort, 408 request timeout, socket error) and, while it runs,
 * by the handler (`run`): a client that sends its whole upload and hangs up leaves a handler
 * still decoding it, and that memory must stay counted until the handler is done. It is given
 * back once, when both are over.
 */
export class InFlightLimit {
  /** The cap; 0 = none (requests are still counted). */
  readonly max: number;
  private current = 0;
  private readonly slots = new WeakMap<FastifyRequest, Slot>();

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 0 || max > MAX_CONCURRENT_DIAGNOSES_LIMIT) {
      throw new RangeError(
        `max must be an integer from 0 to ${MAX_CONCURRENT_DIAGNOSES_LIMIT}, got ${max}`,
      );
    }
    this.max = max;
  }

  /** Requests holding a slot now. */
  get count(): number {
    return this.current;
  }

  /** Takes a slot: its release (idempotent), or undefined when all are taken. */
  tryAcquire(): (() => void) | undefined {
    if (this.max > 0 && this.current >= this.max) return undefined;
    this.current++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.current--;
    };
  }

  /** The onRequest hook of POST /diagnose (after the API key and rate limit checks). */
  readonly onRequest = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const release = this.tryAcquire();
    if (!release) {
      reply.header('retry-after', String(BUSY_RETRY_AFTER_SECONDS));
      throw busy(this.max, BUSY_RETRY_AFTER_SECONDS);
    }
    const slot = new Slot(release);
    this.slots.set(request, slot);
    const res = reply.raw;
    const socket = request.raw.socket;
    // 'finish': the answer was handed to the OS. 'close' on the response: it ended, or its
    // connection went first. The socket's 'close': a pipelined request whose response is queued
    // behind another's gets neither event when the connection drops (checked on Node 20).
    const exchangeOver = (): void => {
      res.off('finish', exchangeOver);
      res.off('close', exchangeOver);
      socket.off('close', exchangeOver);
      slot.exchangeOver();
    };
    res.once('finish', exchangeOver);
    res.once('close', exchangeOver);
    socket.once('close', exchangeOver);
  };

  /** Runs the handler's work holding the request's slot (if it has one) until it settles. */
  async run<T>(request: FastifyRequest, work: () => Promise<T>): Promise<T> {
    const done = this.slots.get(request)?.hold();
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
