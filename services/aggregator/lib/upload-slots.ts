import type { FastifyReply, FastifyRequest } from 'fastify';
import { RequestSlots } from '../../../shared/service/request-slot.ts';

/**
 * One upload in flight per key (a hospital's id), so a hospital holds at most one update body
 * (up to MAX_UPDATE_BYTES) in memory at a time. The route's onRequest hook takes the slot before
 * any of the body is read, or the request is refused. A slot is held until the exchange is over
 * and the handler (`run`) done (shared/service/request-slot.ts).
 */
export class UploadSlots {
  /** Each key held now, with a token of the take that holds it. */
  private readonly held = new Map<string, object>();
  private readonly slots = new RequestSlots();

  /** Keys holding a slot now. */
  get count(): number {
    return this.held.size;
  }

  /** Takes `key`'s slot for this request; false while another request holds it. */
  tryTake(key: string, request: FastifyRequest, reply: FastifyReply): boolean {
    if (this.held.has(key)) return false;
    const holder = {};
    this.held.set(key, holder);
    this.slots.take(request, reply, () => {
      if (this.held.get(key) === holder) this.held.delete(key);
    });
    return true;
  }

  /** Runs the handler's work holding the request's slot (if it has one) until it settles. */
  run<T>(request: FastifyRequest, work: () => Promise<T>): Promise<T> {
    return this.slots.run(request, work);
  }
}
