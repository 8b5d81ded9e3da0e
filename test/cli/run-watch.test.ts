/** What fedxray rounds watch prints of a run's events, on a terminal and off one. */
import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../shared/client/aggregator.ts';
import { RunWatchView } from '../../shared/cli/run-watch.ts';

const EVENTS: RunEvent[] = [
  {
    type: 'round-started',
    data: {
      round: 1,
      index: 0,
      selected: [
        { id: 'a', name: 'north' },
        { id: 'b', name: 'south' },
      ],
    },
  },
  {
    type: 'hospital-updated',
    data: { round: 1, hospitalId: 'a', hospital: 'north', status: 'training', failureReason: null },
  },
  {
    type: 'hospital-updated',
    data: { round: 1, hospitalId: 'b', hospital: 'south', status: 'failed', failureReason: 'boom' },
  },
  {
    type: 'round-completed',
    data: {
      round: 1,
      modelId: 'm',
      version: 2,
      metrics: { train: { loss: 0.5 }, validation: { auc: 0.75 } },
    },
  },
  { type: 'run-failed', data: { reason: 'too few updates' } },
];

function render(tty: boolean): string {
  let out = '';
  const view = new RunWatchView((text) => (out += text), tty);
  for (const event of EVENTS) view.show(event);
  return out;
}

describe('RunWatchView', () => {
  it('writes one plain line per event when stdout is not a terminal', () => {
    expect(render(false).split('\n')).toEqual([
      'round 1 started: north, south',
      'round 1 north: dispatched',
      'round 1 south: dispatched',
      'round 1 north: training',
      'round 1 south: failed (boom)',
      'round 1 completed: model v2, train loss 0.5000, val AUC 0.7500',
      'run failed: too few updates',
      '',
    ]);
  });

  it('redraws one line per hospital in place on a terminal', () => {
    const out = render(true);
    // Each update moves up over the block drawn so far (one line, then two) and rewrites it.
    expect(out.split('\x1b[1A')).toHaveLength(2);
    expect(out.split('\x1b[2A')).toHaveLength(3);
    expect(out).toContain(
      '\x1b[2K  north                training\n\x1b[2K  south                failed (boom)\n',
    );
    expect(
      out.endsWith(
        'round 1 completed: model v2, train loss 0.5000, val AUC 0.7500\nrun failed: too few updates\n',
      ),
    ).toBe(true);
  });
});
