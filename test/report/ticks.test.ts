import { describe, expect, it } from 'vitest';
import { niceAxis } from '../../shared/report/ticks.ts';

describe('niceAxis', () => {
  it('widens the domain to whole 1/2/5 steps', () => {
    expect(niceAxis(0.13, 0.87, { target: 5 })).toEqual({
      domain: [0, 1],
      ticks: [0, 0.2, 0.4, 0.6, 0.8, 1],
      decimals: 1,
    });
    expect(niceAxis(1, 20, { target: 4, integer: true }).ticks).toEqual([0, 5, 10, 15, 20]);
  });

  it('keeps a fixed range and puts ticks inside it', () => {
    const axis = niceAxis(0.7, 1, { target: 6, fixed: true });
    expect(axis.domain).toEqual([0.7, 1]);
    expect(axis.ticks).toEqual([0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1]);
    expect(axis.decimals).toBe(2);
  });

  it('uses whole steps for integer axes and pads a single value', () => {
    expect(niceAxis(1, 3, { target: 10, integer: true }).ticks).toEqual([1, 2, 3]);
    expect(niceAxis(5, 5, { integer: true }).domain).toEqual([4, 6]);
    const flat = niceAxis(0.5, 0.5);
    expect(flat.domain[0]).toBeLessThan(0.5);
    expect(flat.domain[1]).toBeGreaterThan(0.5);
    expect(niceAxis(NaN, NaN).domain).toEqual([0, 1]);
  });
});
