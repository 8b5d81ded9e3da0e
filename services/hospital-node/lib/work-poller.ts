/**
 * The outbound-only mode (OUTBOUND_ONLY=true): a node behind a hospital firewall that accepts
 * no inbound connection takes the aggregator's requests by long-polling it
 * (shared/protocol/node-work.ts) and answers each by running it against its own routes, so
 * the signature checks, the job manager and the answers are exactly a reachable node's.
 * Requests are handled concurrently (an evaluation may take minutes while health checks go
 * on); a failed poll is tried again after a pause of up to 30 s.
 */
import type { NodeWork, NodeWorkAnswer } from '../../../shared/protocol/node-work.ts';
import { sleep } from '../../../shared/util/sleep.ts';

const WAIT_SECONDS = 25;
const MAX_PAUSE_MS = 30_000;

export interface WorkPollerDeps {
  client: {
    nextWork(waitSeconds: number, signal: AbortSignal): Promise<NodeWork | null>;
    answerWork(id: string, answer: NodeWorkAnswer, signal: AbortSignal): Promise<void>;
  };
  /** Runs one request against the node's own routes. */
  handle(work: NodeWork): Promise<NodeWorkAnswer>;
  log: { info(message: string): void; warn(details: object, message: string): void };
  /** First pause after a failed poll, doubled up to 30 s (default 1 s). */
  pauseMs?: number;
}

export function startWorkPoller(deps: WorkPollerDeps): { stop(): Promise<void> } {
  const stopping = new AbortController();
  const inFlight = new Set<Promise<void>>();
  const serve = async (work: NodeWork): Promise<void> => {
    try {
      await deps.client.answerWork(work.id, await deps.handle(work), stopping.signal);
    } catch (error) {
      if (!stopping.signal.aborted)
        deps.log.warn({ err: error, path: work.path }, 'could not answer the aggregator');
    }
  };
  const loop = (async () => {
    const first = deps.pauseMs ?? 1000;
    let pause = first;
    let failing = false;
    deps.log.info('outbound-only: taking work by polling the aggregator (GET /nodes/work)');
    while (!stopping.signal.aborted) {
      try {
        const work = await deps.client.nextWork(WAIT_SECONDS, stopping.signal);
        if (failing) deps.log.info('outbound-only: the aggregator answers again');
        failing = false;
        pause = first;
        if (work) {
          const task = serve(work).finally(() => inFlight.delete(task));
          inFlight.add(task);
        }
      } catch (error) {
        if (stopping.signal.aborted) break;
        if (!failing)
          deps.log.warn(
            { err: error },
            'outbound-only: polling the aggregator failed; trying again',
          );
        failing = true;
        await sleep(pause, stopping.signal).catch(() => {});
        pause = Math.min(pause * 2, MAX_PAUSE_MS);
      }
    }
  })();
  return {
    async stop() {
      stopping.abort(new Error('the node is stopping'));
      await loop;
      await Promise.allSettled([...inFlight]);
    },
  };
}
