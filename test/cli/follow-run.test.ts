/** fedxray rounds watch keeps following a run whose event stream drops before the run ends. */
import { describe, expect, it } from 'vitest';
import type { RunDetail, RunEvent } from '../../shared/client/aggregator.ts';
import { followRun, MAX_RECONNECTS, type RunSource } from '../../shared/cli/follow-run.ts';

const event = (round: number): RunEvent =>
  ({ type: 'round-started', data: { round, index: round - 1, selected: [] } }) as RunEvent;
const run = (status: string) => ({ id: 'r', status }) as RunDetail;

/** A source whose streams and run states are played back in order. */
function source(streams: (RunEvent[] | Error)[], states: string[]): RunSource & { opened: number } {
  const fake = {
    opened: 0,
    async *watchRun() {
      const stream = streams[fake.opened++] ?? [];
      if (stream instanceof Error) throw stream;
      yield* stream;
    },
    async getRun() {
      return run(states.shift() ?? 'running');
    },
  };
  return fake;
}

describe('followRun', () => {
  it('reconnects after a stream that ends or fails mid-run, until the run ends', async () => {
    const shown: RunEvent[] = [];
    const notes: string[] = [];
    const pauses: number[] = [];
    const fake = source(
      [[event(1)], new Error('socket hang up'), [event(2)]],
      ['running', 'running', 'completed'],
    );
    const ended = await followRun(fake, 'r', {
      show: (e) => shown.push(e),
      note: (m) => notes.push(m),
      sleep: async (ms) => void pauses.push(ms),
    });
    expect(ended.status).toBe('completed');
    expect(fake.opened).toBe(3);
    expect(shown).toEqual([event(1), event(2)]);
    expect(notes).toEqual([
      'the event stream ended while the run is running; reconnecting in 1.0 s',
      'the event stream failed (socket hang up) while the run is running; reconnecting in 2.0 s',
    ]);
    expect(pauses).toEqual([1000, 2000]);
  });

  it('does not reconnect once the run has ended', async () => {
    const fake = source([[event(1)]], ['failed']);
    const ended = await followRun(fake, 'r', { show: () => {}, note: () => {} });
    expect(ended.status).toBe('failed');
    expect(fake.opened).toBe(1);
  });

  it(`gives up after ${MAX_RECONNECTS} reconnects without an event, with the run as it is`, async () => {
    const fake = source([], []);
    const notes: string[] = [];
    const ended = await followRun(fake, 'r', {
      show: () => {},
      note: (m) => notes.push(m),
      sleep: async () => {},
    });
    expect(ended.status).toBe('running');
    expect(fake.opened).toBe(MAX_RECONNECTS + 1);
    expect(notes).toHaveLength(MAX_RECONNECTS);
    expect(notes.at(-1)).toMatch(/reconnecting in 15\.0 s$/);
  });
});
