import { tf } from '../tf/tf.ts';

/** One weight tensor as plain data: what moves between hospitals and the aggregator. */
export interface WeightArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Reads every weight (trainable and not, e.g. BatchNorm moving statistics) in a stable order. */
export function getModelWeights(model: tf.LayersModel): WeightArray[] {
  return model.weights.map((variable) => {
    const value = variable.read();
    return {
      name: variable.originalName,
      shape: [...value.shape],
      // Copied: some backends hand out their own storage.
      data: new Float32Array(value.dataSync()),
    };
  });
}

/** Describes a model's weights without copying them: for compatibility checks. */
export function describeModelWeights(model: tf.LayersModel): { name: string; shape: number[] }[] {
  return model.weights.map((v) => ({ name: v.originalName, shape: [...v.shape] as number[] }));
}

/**
 * Writes weights into a model by name. Every model weight must be present with the same
 * shape and finite values; otherwise nothing is written and the error lists the problems.
 */
export function setModelWeights(model: tf.LayersModel, weights: readonly WeightArray[]): void {
  const byName = new Map(weights.map((w) => [w.name, w]));
  const problems: string[] = [];
  for (const variable of model.weights) {
    const w = byName.get(variable.originalName);
    if (!w) {
      problems.push(`missing ${variable.originalName}`);
      continue;
    }
    const expected = variable.shape.join('x');
    if (w.shape.join('x') !== expected) {
      problems.push(`${w.name}: shape ${w.shape.join('x')} but the model has ${expected}`);
    } else if (w.data.length !== variable.shape.reduce((a: number, b) => a * (b ?? 1), 1)) {
      problems.push(`${w.name}: ${w.data.length} values for shape ${expected}`);
    }
  }
  if (byName.size !== model.weights.length) {
    const known = new Set(model.weights.map((v) => v.originalName));
    for (const name of byName.keys()) if (!known.has(name)) problems.push(`unexpected ${name}`);
  }
  if (problems.length > 0) {
    throw new Error(`Weights do not fit model ${model.name}: ${problems.slice(0, 5).join('; ')}`);
  }
  tf.tidy(() => {
    for (const variable of model.weights) {
      const w = byName.get(variable.originalName) as WeightArray;
      variable.write(tf.tensor(w.data, w.shape, 'float32'));
    }
  });
}
