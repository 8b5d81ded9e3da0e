/**
 * Byzantine hospitals for the simulation: a trainer wrapper that turns chosen hospitals into
 * attackers, the threat the robust strategies (median, trimmed-mean, krum) are for. An
 * attacker receives the global model w like every hospital and answers with:
 * - label-flip: the model trained on its own images with every label flipped (data poisoning);
 * - scale=s: w + s (w_local - w), its honest update scaled by s (default -10: reversed and
 *   magnified, the model-replacement attack);
 * - noise=sigma: w + sigma z, z ~ N(0, 1) per coordinate (default sigma 10: an update of large
 *   norm carrying nothing), drawn from the job's seed so runs repeat.
 */
import type { WeightArray } from '../model/model-weights.ts';
import type { LocalTrainResult, TrainProgress } from '../training/local-train.ts';
import { createRng } from '../util/random.ts';
import type { ClientJob, ClientTrainer } from './client-trainer.ts';

export type ByzantineAttack =
  { kind: 'label-flip' } | { kind: 'scale'; factor: number } | { kind: 'noise'; sigma: number };
export type AttackKind = ByzantineAttack['kind'];
export const ATTACK_KINDS: readonly AttackKind[] = ['label-flip', 'scale', 'noise'];
export const ATTACK_DEFAULTS = Object.freeze({ scale: -10, noise: 10 });

/** Which hospitals attack, and how. */
export type ByzantinePlan = ReadonlyMap<string, ByzantineAttack>;

export function describeAttack(attack: ByzantineAttack): string {
  if (attack.kind === 'scale') return `scale=${attack.factor}`;
  if (attack.kind === 'noise') return `noise=${attack.sigma}`;
  return attack.kind;
}

/** One attack from `label-flip`, `scale[=s]` or `noise[=sigma]`. */
export function parseAttack(text: string): ByzantineAttack {
  const [kind, param, ...rest] = text.split('=');
  const value = param === undefined ? undefined : Number(param);
  if (rest.length > 0 || (param !== undefined && (param.trim() === '' || !Number.isFinite(value))))
    throw new Error(`attack "${text}": the parameter after = must be a number`);
  if (kind === 'label-flip') {
    if (value !== undefined) throw new Error('attack label-flip takes no parameter');
    return { kind };
  }
  if (kind === 'scale') return { kind, factor: value ?? ATTACK_DEFAULTS.scale };
  if (kind === 'noise') {
    const sigma = value ?? ATTACK_DEFAULTS.noise;
    if (!(sigma > 0)) throw new Error(`attack noise: sigma must be above 0, got ${sigma}`);
    return { kind, sigma };
  }
  throw new Error(`unknown attack "${kind}"; choose one of ${ATTACK_KINDS.join(', ')}`);
}

/**
 * A plan from `ID:ATTACK[,ID:ATTACK...]`, e.g. `hospital-1:label-flip,hospital-2:scale=-10`;
 * each ID must be one of `ids`, once.
 */
export function parseByzantinePlan(text: string, ids: readonly string[]): ByzantinePlan {
  const plan = new Map<string, ByzantineAttack>();
  for (const item of text.split(',')) {
    const at = item.indexOf(':');
    if (at <= 0) throw new Error(`"${item}": expected HOSPITAL:ATTACK, e.g. hospital-1:scale`);
    const id = item.slice(0, at).trim();
    if (!ids.includes(id))
      throw new Error(`"${id}" is not a simulated hospital (${ids[0]} to ${ids[ids.length - 1]})`);
    if (plan.has(id)) throw new Error(`${id} is named twice`);
    plan.set(id, parseAttack(item.slice(at + 1).trim()));
  }
  if (plan.size >= ids.length) throw new Error('at least one hospital must stay honest');
  return plan;
}

/** The model an attacker sends instead of its honest local model (label-flip: unchanged). */
export function attackedWeights(
  global: readonly WeightArray[],
  local: readonly WeightArray[],
  attack: ByzantineAttack,
  seed: number,
): WeightArray[] {
  if (attack.kind === 'label-flip') return local.map((w) => ({ ...w, data: w.data.slice() }));
  const rng = createRng(seed);
  const start = new Map(global.map((w) => [w.name, w.data]));
  return local.map((w) => {
    const w0 = start.get(w.name);
    if (!w0 || w0.length !== w.data.length)
      throw new Error(`the global model has no weight ${w.name} of ${w.data.length} values`);
    const out = new Float32Array(w.data.length);
    for (let k = 0; k < out.length; k++)
      out[k] =
        attack.kind === 'scale'
          ? w0[k] + attack.factor * (w.data[k] - w0[k])
          : w0[k] + attack.sigma * rng.normal();
    return { name: w.name, shape: [...w.shape], data: out };
  });
}

/** Trains every job with `inner`; the plan's hospitals then attack as their entry says. */
export class ByzantineTrainer implements ClientTrainer {
  readonly concurrency: number;

  constructor(
    private readonly inner: ClientTrainer,
    private readonly plan: ByzantinePlan,
  ) {
    this.concurrency = inner.concurrency;
  }

  async train(job: ClientJob, onProgress?: (p: TrainProgress) => void): Promise<LocalTrainResult> {
    const attack = this.plan.get(job.clientId);
    if (!attack) return this.inner.train(job, onProgress);
    const poisoned: ClientJob =
      attack.kind === 'label-flip'
        ? { ...job, records: job.records.map((r) => ({ ...r, label: r.label === 1 ? 0 : 1 })) }
        : job;
    const result = await this.inner.train(poisoned, onProgress);
    return {
      ...result,
      weights: attackedWeights(job.global, result.weights, attack, job.settings.seed),
    };
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
