import { type NamedWeights, shapeSize } from './types.ts';

export type WeightsProblemKind =
  'missing' | 'extra' | 'duplicate' | 'shape-mismatch' | 'size-mismatch' | 'non-finite';

export interface WeightsProblem {
  kind: WeightsProblemKind;
  name: string;
  message: string;
}

export interface ExpectedWeight {
  name: string;
  shape: readonly number[];
}

/**
 * Everything that makes `got` unusable as an update of a model with tensors `expected`:
 * missing, extra or duplicated names, wrong shapes, data length not matching the shape, and
 * NaN/Infinity values (e.g. a diverged client, or float16 overflow). Empty means compatible.
 */
export function checkCompatible(
  expected: readonly ExpectedWeight[],
  got: readonly NamedWeights[],
): WeightsProblem[] {
  const problems: WeightsProblem[] = [];
  const byName = new Map<string, NamedWeights>();
  for (const w of got) {
    if (byName.has(w.name)) {
      problems.push({
        kind: 'duplicate',
        name: w.name,
        message: `"${w.name}" appears more than once`,
      });
    } else byName.set(w.name, w);
  }
  const expectedNames = new Set(expected.map((e) => e.name));

  for (const e of expected) {
    const w = byName.get(e.name);
    if (!w) {
      problems.push({ kind: 'missing', name: e.name, message: `"${e.name}" is missing` });
      continue;
    }
    if (!sameShape(e.shape, w.shape)) {
      problems.push({
        kind: 'shape-mismatch',
        name: e.name,
        message: `"${e.name}" has shape [${w.shape.join(', ')}], expected [${e.shape.join(', ')}]`,
      });
    }
    problems.push(...dataProblems(w));
  }
  for (const w of byName.values()) {
    if (!expectedNames.has(w.name)) {
      problems.push({ kind: 'extra', name: w.name, message: `"${w.name}" is not in the model` });
    }
  }
  return problems;
}

function dataProblems(w: NamedWeights): WeightsProblem[] {
  if (w.data.length !== shapeSize(w.shape)) {
    return [
      {
        kind: 'size-mismatch',
        name: w.name,
        message: `"${w.name}" has ${w.data.length} values for shape [${w.shape.join(', ')}]`,
      },
    ];
  }
  let nonFinite = 0;
  for (let i = 0; i < w.data.length; i++) if (!Number.isFinite(w.data[i])) nonFinite++;
  return nonFinite === 0
    ? []
    : [
        {
          kind: 'non-finite',
          name: w.name,
          message: `"${w.name}" has ${nonFinite} NaN/Infinity values`,
        },
      ];
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
