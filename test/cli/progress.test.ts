import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProgress, formatDuration, type ProgressStream } from '../../shared/cli/progress.ts';

function fakeStream(isTTY: boolean, columns?: number): ProgressStream & { chunks: string[] } {
  const chunks: string[] = [];
  return { isTTY, columns, chunks, write: (chunk: string) => chunks.push(chunk) };
}

function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('createProgress on a terminal', () => {
  it('redraws one line with bar, percent, rate and ETA, throttled', () => {
    vi.stubEnv('FEDXRAY_QUIET', '');
    const stream = fakeStream(true, 200);
    const clock = fakeClock();
    const p = createProgress({ label: 'train', total: 100, stream, now: clock.now });
    clock.advance(1000);
    p.tick(10, 'loss 0.5');
    expect(stream.chunks).toHaveLength(1);
    expect(stream.chunks[0]).toBe(
      '\rtrain [##----------------------] 10% 10/100 10/s ETA 0:09 loss 0.5\x1b[K',
    );
    clock.advance(50);
    p.tick(); // within 100 ms: not drawn
    expect(stream.chunks).toHaveLength(1);
    clock.advance(1950);
    p.update(50);
    expect(stream.chunks).toHaveLength(2);
    const half = `[${'#'.repeat(12)}${'-'.repeat(12)}]`;
    expect(stream.chunks[1]).toBe(`\rtrain ${half} 50% 50/100 17/s ETA 0:03 loss 0.5\x1b[K`);
    p.done('finished');
    expect(stream.chunks[2]).toBe(`\rtrain ${half} 50% 50/100 17/s in 0:03 finished\x1b[K\n`);
    p.tick();
    p.done();
    expect(stream.chunks).toHaveLength(3);
  });

  it('truncates to the terminal width', () => {
    vi.stubEnv('FEDXRAY_QUIET', '');
    const stream = fakeStream(true, 30);
    const p = createProgress({ label: 'x', total: 10, stream, now: fakeClock().now });
    p.tick(1, 'a very long trailing information string');
    expect(stream.chunks[0].replace('\r', '').replace('\x1b[K', '')).toHaveLength(29);
  });
});

describe('createProgress in logs', () => {
  it('prints a line at most every 5 s and a final line', () => {
    vi.stubEnv('FEDXRAY_QUIET', '');
    const stream = fakeStream(false);
    const clock = fakeClock();
    const p = createProgress({ label: 'eval', total: 200, stream, now: clock.now });
    for (let i = 0; i < 100; i++) {
      clock.advance(100);
      p.tick();
    }
    // 10 s elapsed: lines at 5 s and 10 s.
    expect(stream.chunks).toEqual([
      'eval 25% 50/200 10/s ETA 0:15\n',
      'eval 50% 100/200 10/s ETA 0:10\n',
    ]);
    clock.advance(1000);
    p.update(200, 'ok');
    expect(stream.chunks).toHaveLength(2);
    p.done();
    expect(stream.chunks[2]).toBe('eval done: 100% 200/200 18/s in 0:11 ok\n');
    expect(stream.chunks.join('')).not.toContain('\r');
    expect(stream.chunks.join('')).not.toContain('\x1b');
  });

  it('works without a known total', () => {
    vi.stubEnv('FEDXRAY_QUIET', '');
    const stream = fakeStream(false);
    const clock = fakeClock();
    const p = createProgress({ label: 'scan', total: 0, stream, now: clock.now });
    clock.advance(2000);
    p.tick(5);
    p.done();
    expect(stream.chunks).toEqual(['scan done: 5 2.5/s in 0:02\n']);
  });
});

describe('disabling', () => {
  it('writes nothing when FEDXRAY_QUIET=1 or enabled is false', () => {
    const stream = fakeStream(false);
    vi.stubEnv('FEDXRAY_QUIET', '1');
    const quiet = createProgress({ label: 'a', total: 1, stream });
    quiet.tick();
    quiet.done();
    vi.stubEnv('FEDXRAY_QUIET', '');
    const off = createProgress({ label: 'b', total: 1, stream, enabled: false });
    off.tick();
    off.done();
    expect(stream.chunks).toEqual([]);
  });

  it('accepts process.stderr as a stream type', () => {
    const p = createProgress({ label: 'types', total: 1, stream: process.stderr, enabled: false });
    p.done();
  });
});

describe('formatDuration', () => {
  it('formats m:ss and h:mm:ss', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(59.6)).toBe('1:00');
    expect(formatDuration(125)).toBe('2:05');
    expect(formatDuration(3725)).toBe('1:02:05');
  });
});
