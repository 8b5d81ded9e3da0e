/**
 * Requests to outbound-only hospital nodes (shared/protocol/node-work.ts): the hospital client
 * "fetches" through `fetchFor(hospitalId)`; the request waits here until the node's long poll
 * takes it, and the node's answer resolves the fetch. A request the node has not answered
 * when its caller's signal aborts (the client's timeouts) is dropped, so an unreachable or
 * silent node fails like one that does not answer over HTTP.
 */
import { randomUUID } from 'node:crypto';
import type { NodeWork, NodeWorkAnswer } from '../../../shared/protocol/node-work.ts';

interface Pending {
  hospitalId: string;
  work: NodeWork;
  resolve(answer: NodeWorkAnswer): void;
}

export class NodeTunnel {
  /** Requests no poll has taken yet, per hospital. */
  private readonly queued = new Map<string, Pending[]>();
  /** Requests taken by a poll and not answered yet, by id. */
  private readonly taken = new Map<string, Pending>();
  /** The poll waiting for work, per hospital (a newer poll replaces it). */
  private readonly polls = new Map<string, (work: NodeWork | null) => void>();

  fetchFor(hospitalId: string): typeof fetch {
    return async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const signal = init?.signal ?? undefined;
      signal?.throwIfAborted();
      const headers = Object.fromEntries(new Headers(init?.headers).entries());
      const body = typeof init?.body === 'string' ? init.body : undefined;
      const method = init?.method === 'POST' ? 'POST' : 'GET';
      const work: NodeWork = {
        id: randomUUID(),
        method,
        path: `${url.pathname}${url.search}`,
        headers,
        ...(body === undefined ? {} : { body }),
      };
      const answer = await new Promise<NodeWorkAnswer>((resolve, reject) => {
        const pending: Pending = { hospitalId, work, resolve };
        const onAbort = (): void => {
          this.drop(pending);
          reject(signal?.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        pending.resolve = (a) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(a);
        };
        this.offer(pending);
      });
      return new Response(answer.body === '' ? null : answer.body, {
        status: answer.status,
        headers: answer.contentType ? { 'content-type': answer.contentType } : {},
      });
    };
  }

  /** The next request for the hospital, waiting up to `waitMs`; null when none came. */
  next(hospitalId: string, waitMs: number, signal: AbortSignal): Promise<NodeWork | null> {
    const queue = this.queued.get(hospitalId);
    const first = queue?.shift();
    if (first) return Promise.resolve(this.take(first));
    this.polls.get(hospitalId)?.(null);
    return new Promise((resolve) => {
      const finish = (work: NodeWork | null): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (this.polls.get(hospitalId) === finish) this.polls.delete(hospitalId);
        resolve(work);
      };
      const onAbort = (): void => finish(null);
      const timer = setTimeout(() => finish(null), waitMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.polls.set(hospitalId, finish);
    });
  }

  /** Ends every waiting poll (204): the app is closing and must not wait out long polls. */
  close(): void {
    for (const finish of [...this.polls.values()]) finish(null);
  }

  /** The node's answer to request `id`; false when it is unknown (dropped, or not its own). */
  answer(hospitalId: string, id: string, answer: NodeWorkAnswer): boolean {
    const pending = this.taken.get(id);
    if (!pending || pending.hospitalId !== hospitalId) return false;
    this.taken.delete(id);
    pending.resolve(answer);
    return true;
  }

  private offer(pending: Pending): void {
    const poll = this.polls.get(pending.hospitalId);
    if (poll) {
      this.polls.delete(pending.hospitalId);
      poll(this.take(pending));
      return;
    }
    const queue = this.queued.get(pending.hospitalId) ?? [];
    queue.push(pending);
    this.queued.set(pending.hospitalId, queue);
  }

  private take(pending: Pending): NodeWork {
    this.taken.set(pending.work.id, pending);
    return pending.work;
  }

  private drop(pending: Pending): void {
    this.taken.delete(pending.work.id);
    const queue = this.queued.get(pending.hospitalId);
    if (queue)
      this.queued.set(
        pending.hospitalId,
        queue.filter((p) => p !== pending),
      );
  }
}
