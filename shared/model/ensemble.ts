/**
 * Ensembles: one model directory whose model.json lists member model directories (under
 * members/), all read with the same preprocessing. The ensemble's P(PNEUMONIA) is the mean of
 * its members', the best-documented defence of a classifier under dataset shift (Lakshminarayanan
 * et al. 2017; Ovadia et al. 2019). A plain model directory loads as an ensemble of one, so
 * scoring code takes a `Predictor` and never asks which it has.
 */
import { cp, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { tf } from '../tf/tf.ts';
import { predictBatch, type BatchScorer } from '../training/predict.ts';
import { loadModelDir, MODEL_FILE, readModelMetadata, type ModelMetadata } from './model-dir.ts';
import { ttaScorer, type TtaPolicy } from './tta.ts';

export const MEMBERS_DIR = 'members';

/** Member directories relative to the ensemble's directory, and how they are combined. */
export type EnsembleSpec = NonNullable<ModelMetadata['ensemble']>;

export interface Predictor {
  /** The directory's own metadata (for an ensemble: its preprocessing, threshold, members). */
  metadata: ModelMetadata;
  networks: tf.LayersModel[];
  score: BatchScorer;
  dispose(): void;
}

/** The mean of the networks' P(PNEUMONIA); members run one after another (each is small). */
export function ensembleScorer(networks: readonly tf.LayersModel[]): BatchScorer {
  if (networks.length === 0) throw new RangeError('an ensemble needs at least one member');
  return (xs, count, size) => {
    const mean = new Float32Array(count);
    for (const network of networks) {
      const p = predictBatch(network, xs, count, size);
      for (let i = 0; i < count; i++) mean[i] += p[i] / networks.length;
    }
    return mean;
  };
}

function samePreprocessing(a: ModelMetadata, b: ModelMetadata): boolean {
  const [x, y] = [a.preprocessing, b.preprocessing];
  return (
    x.inputSize === y.inputSize && x.normalization === y.normalization && x.equalize === y.equalize
  );
}

/** Reads the metadata of an ensemble's members, checking they can share one decoded image. */
export async function readMemberMetadata(
  dir: string,
  metadata: ModelMetadata,
): Promise<ModelMetadata[]> {
  const spec = metadata.ensemble;
  if (!spec || spec.members.length === 0) throw new Error(`${dir} is not an ensemble`);
  const members = await Promise.all(spec.members.map((m) => readModelMetadata(join(dir, m))));
  for (const [i, member] of members.entries()) {
    if (member.ensemble) throw new Error(`${spec.members[i]}: an ensemble cannot hold an ensemble`);
    if (!samePreprocessing(member, metadata))
      throw new Error(
        `${spec.members[i]} reads images as ${JSON.stringify(member.preprocessing)}, the ensemble as ${JSON.stringify(metadata.preprocessing)}`,
      );
  }
  return members;
}

/** Loads a model directory, plain or ensemble, ready to score batches. */
export async function loadPredictorDir(
  dir: string,
  options: { tta?: TtaPolicy } = {},
): Promise<Predictor> {
  const metadata = await readModelMetadata(dir);
  const memberDirs = metadata.ensemble ? metadata.ensemble.members.map((m) => join(dir, m)) : [dir];
  if (metadata.ensemble) await readMemberMetadata(dir, metadata);
  const networks: tf.LayersModel[] = [];
  try {
    for (const memberDir of memberDirs) networks.push((await loadModelDir(memberDir)).model);
  } catch (error) {
    for (const n of networks) n.dispose();
    throw error;
  }
  let disposed = false;
  return {
    metadata,
    networks,
    score: ttaScorer(ensembleScorer(networks), options.tta ?? metadata.tta ?? 'none'),
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const n of networks) n.dispose();
    },
  };
}

/**
 * Writes an ensemble directory from plain model directories: each is copied under members/,
 * named by its directory, and model.json takes the first member's architecture and
 * preprocessing, a fixed 0.5 threshold unless given, and each member's training record.
 */
export async function writeEnsembleDir(
  out: string,
  memberDirs: readonly string[],
  options: { threshold?: ModelMetadata['threshold']; description?: string; tta?: TtaPolicy } = {},
): Promise<ModelMetadata> {
  if (memberDirs.length < 2) throw new RangeError('an ensemble needs at least two members');
  const metas = await Promise.all(memberDirs.map((d) => readModelMetadata(d)));
  const names = memberDirs.map((d) => basename(resolve(d)));
  if (new Set(names).size !== names.length)
    throw new Error(`member directories need distinct names (got ${names.join(', ')})`);
  const first = metas[0];
  for (const [i, m] of metas.entries()) {
    if (m.ensemble) throw new Error(`${memberDirs[i]} is an ensemble itself`);
    if (!samePreprocessing(m, first))
      throw new Error(`${memberDirs[i]} reads images unlike ${memberDirs[0]}; members must agree`);
  }
  const tmp = `${out}.partial`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(join(tmp, MEMBERS_DIR), { recursive: true });
  for (const [i, dir] of memberDirs.entries())
    await cp(dir, join(tmp, MEMBERS_DIR, names[i]), { recursive: true });
  const metadata: ModelMetadata = {
    format: 'fedxray-model',
    version: 1,
    architecture: first.architecture,
    width: first.width,
    preprocessing: first.preprocessing,
    classes: ['NORMAL', 'PNEUMONIA'],
    threshold: options.threshold ?? {
      threshold: 0.5,
      rule: 'fixed:0.5',
      description: 'fixed threshold 0.5',
    },
    parameters: metas.reduce((sum, m) => sum + m.parameters, 0),
    createdAt: new Date().toISOString(),
    ensemble: { members: names.map((n) => `${MEMBERS_DIR}/${n}`), combine: 'mean-probability' },
    ...(options.tta && options.tta !== 'none' ? { tta: options.tta } : {}),
    training: {
      kind: 'ensemble',
      ...(options.description ? { description: options.description } : {}),
      members: metas.map((m, i) => ({ name: names[i], training: m.training ?? null })),
    },
  };
  await writeFile(join(tmp, MODEL_FILE), JSON.stringify(metadata, null, 2) + '\n');
  await rm(out, { recursive: true, force: true });
  await rename(tmp, out);
  return metadata;
}
