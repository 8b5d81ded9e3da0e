import type { FastifyReply, FastifyRequest } from 'fastify';
import { RequestSlots } from '../../../shared/service/request-slot.ts';
import { busy } from './errors.ts';

/** What a caller refused as busy is told to wait (`retry-after`, seconds). */
export const BUSY_RETRY_AFTER_SECONDS = 1;

/** The most MAX_CONCURRENT_DIAGNOSES may be. */
export const MAX_CONCURRENT_DIAGNOSES_LIMIT = 10_000;

/**
 * A cap on the POST /diagnose requests in flight, so memory under a flood is bounded by
 * max x MAX_UPLOAD_BYTES (each waiting request holds its upload and, later, its decoded image).
 * The onRequest hook takes a slot before any of the body is read, or answers 503 `busy`. A slot
 * is held until the exchange is over and the handler (`run`) done (shared/service/request-slot.ts).
 */
export class InFlightLimit {
  /** The cap; 0 = none (requests are still counted). */
  readonly max: number;
  private current = 0;
  private readonly slots = new RequestSlots();

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
    this.slots.take(request, reply, release);
  };

  /** Runs the handler's work holding the request's slot (if it has one) until it settles. */
  run<T>(request: FastifyRequest, work: () => Promise<T>): Promise<T> {
    return this.slots.run(request, work);
  }
}
