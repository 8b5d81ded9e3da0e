import { buildModel, type ArchitectureName } from '../../../shared/model/architectures.ts';
import type { tf } from '../../../shared/tf/tf.ts';

export interface ModelSpec {
  architecture: ArchitectureName;
  inputSize: number;
  width: number;
}

/**
 * Built models by (architecture, inputSize, width), so a node does not rebuild the network
 * every round: every job overwrites all weights anyway. The least recently used model is
 * disposed beyond `capacity`.
 */
export class ModelCache {
  private readonly models = new Map<string, tf.LayersModel>();

  constructor(private readonly capacity = 2) {}

  get(spec: ModelSpec): tf.LayersModel {
    const key = `${spec.architecture}|${spec.inputSize}|${spec.width}`;
    let model = this.models.get(key);
    if (model) {
      this.models.delete(key);
    } else {
      model = buildModel(spec.architecture, { inputSize: spec.inputSize, width: spec.width });
    }
    this.models.set(key, model);
    while (this.models.size > this.capacity) {
      const [oldestKey, oldest] = this.models.entries().next().value as [string, tf.LayersModel];
      this.models.delete(oldestKey);
      oldest.dispose();
    }
    return model;
  }

  dispose(): void {
    for (const model of this.models.values()) model.dispose();
    this.models.clear();
  }
}
