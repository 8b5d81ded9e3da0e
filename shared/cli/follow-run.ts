/**
 * Follows a run to its end over its event stream, reconnecting when the stream ends (or fails
 * to open) while the run is still going: an aggregator restart or a proxy's idle timeout must
 * not end `fedxray rounds watch` early. Each new stream starts with a snapshot, so nothing
 * shown is lost; after MAX_RECONNECTS attempts in a row without an event it gives up.
 */
import type { RunDetail, RunEvent } from '../client/aggregator.ts';
import { sleep as defaultSleep } from '../util/sleep.ts';

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
export const MAX_RECONNECTS = 8;
const MAX_PAUSE_MS = 15_000;

export interface RunSource {
  watchRun(id: string): AsyncIterable<RunEvent>;
  getRun(id: string): Promise<RunDetail>;
}

export interface FollowOptions {
  show(event: RunEvent): void;
  /** One line about a reconnect (stderr in the CLI). */
  note(message: string): void;
  sleep?: (ms: number) => Promise<void>;
  /** First pause before a reconnect, doubled each attempt up to 15 s (default 1 s). */
  pauseMs?: number;
}

/** The run once it has ended. */
export async function followRun(
  source: RunSource,
  id: string,
  options: FollowOptions,
): Promise<RunDetail> {
  const sleep = options.sleep ?? defaultSleep;
  let failures = 0;
  for (;;) {
    let problem: string;
    try {
      for await (const event of source.watchRun(id)) {
        options.show(event);
        failures = 0;
      }
      problem = 'the event stream ended';
    } catch (error) {
      problem = `the event stream failed (${(error as Error).message})`;
    }
    let run: RunDetail | undefined;
    try {
      run = await source.getRun(id);
      if (TERMINAL.has(run.status)) return run;
    } catch (error) {
      problem += `; GET /rounds/${id} failed (${(error as Error).message})`;
    }
    failures++;
    if (failures > MAX_RECONNECTS) {
      if (run) return run;
      throw new Error(`${problem}; gave up after ${MAX_RECONNECTS} reconnects`);
    }
    const pause = Math.min((options.pauseMs ?? 1000) * 2 ** (failures - 1), MAX_PAUSE_MS);
    options.note(
      `${problem} while the run is ${run?.status ?? 'unknown'}; reconnecting in ${(pause / 1000).toFixed(1)} s`,
    );
    await sleep(pause);
  }
}
