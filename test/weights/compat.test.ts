import { describe, expect, it } from 'vitest';
import { checkCompatible } from '../../shared/weights/compat.ts';
import type { NamedWeights } from '../../shared/weights/types.ts';

const expected = [
  { name: 'a', shape: [2, 2] },
  { name: 'b', shape: [3] },
  { name: 'c', shape: [] },
];

const ok = (): NamedWeights[] => [
  { name: 'a', shape: [2, 2], data: new Float32Array(4) },
  { name: 'b', shape: [3], data: new Float32Array(3) },
  { name: 'c', shape: [], data: new Float32Array(1) },
];

describe('checkCompatible', () => {
  it('finds nothing wrong with a matching update', () => {
    expect(checkCompatible(expected, ok())).toEqual([]);
    // Order does not matter.
    expect(checkCompatible(expected, ok().reverse())).toEqual([]);
  });

  it('reports missing, extra, duplicate, wrong-shape, size and non-finite problems', () => {
    const got: NamedWeights[] = [
      { name: 'a', shape: [4], data: new Float32Array(4) },
      { name: 'b', shape: [3], data: Float32Array.of(1, NaN, Infinity) },
      { name: 'b', shape: [3], data: new Float32Array(3) },
      { name: 'z', shape: [1], data: new Float32Array(1) },
      { name: 'c', shape: [], data: new Float32Array(2) },
    ];
    const problems = checkCompatible(expected, got);
    expect(problems.map((p) => [p.kind, p.name])).toEqual([
      ['duplicate', 'b'],
      ['shape-mismatch', 'a'],
      ['non-finite', 'b'],
      ['size-mismatch', 'c'],
      ['extra', 'z'],
    ]);
    expect(problems.find((p) => p.kind === 'non-finite')?.message).toMatch(/2 NaN\/Infinity/);
    expect(problems.find((p) => p.kind === 'shape-mismatch')?.message).toMatch(/\[4\].*\[2, 2\]/);
    expect(checkCompatible(expected, ok().slice(1))).toEqual([
      { kind: 'missing', name: 'a', message: '"a" is missing' },
    ]);
  });
});
