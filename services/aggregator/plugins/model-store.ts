import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { AggregatorConfig } from '../config.ts';
import { ModelStore } from '../lib/model-store.ts';

/** Model and update files under STATE_DIR (created if missing). */
export async function createModelStore(config: AggregatorConfig): Promise<ModelStore> {
  const stateDir = path.resolve(config.stateDir);
  await mkdir(path.join(stateDir, 'models'), { recursive: true });
  await mkdir(path.join(stateDir, 'updates'), { recursive: true });
  return new ModelStore(stateDir);
}
