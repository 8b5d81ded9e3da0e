import { randomInt } from 'node:crypto';
import { Value } from '@sinclair/typebox/value';
import {
  formatThresholdRule,
  parseThresholdRule,
  type ThresholdRule,
} from '../../../shared/metrics/threshold.ts';
import { resolveStrategySpec } from '../../../shared/federated/strategies.ts';
import { HttpError } from '../../../shared/service/errors.ts';
import { hashString } from '../../../shared/util/random.ts';
import type { NodeModelInput, NodeTrainRequest } from '../schemas/hospital-node.ts';
import {
  RunSettingsSchema,
  StartRunBodySchema,
  type RunSettings,
  type RunStrategy,
  type StartRunBody,
} from '../schemas/runs.ts';
import { FEDERATION_WEIGHTS_KEY } from './class-weights.ts';
import { epsilonAfter } from './run-privacy.ts';

const DP_STRATEGIES: ReadonlySet<string> = new Set(['fedavg', 'fedavgm']);

/**
 * A POST /rounds body with every default filled in (maxDownloads = rounds, a random seed, the
 * strategy's own defaults) and the threshold rule in its canonical form. A rule that does not
 * parse, or a strategy given another's settings, answers 400.
 */
export function resolveRunSettings(body: StartRunBody): RunSettings {
  const withDefaults = Value.Default(StartRunBodySchema, structuredClone(body)) as StartRunBody;
  const settings = {
    ...withDefaults,
    maxDownloads: withDefaults.maxDownloads ?? withDefaults.rounds,
    seed: withDefaults.seed ?? randomInt(2 ** 31 - 1),
    thresholdRule: canonicalThresholdRule(withDefaults.thresholdRule ?? 'fixed:0.5'),
    strategy: resolveStrategy(withDefaults.strategy ?? { name: 'fedavg' }),
  };
  // With DP the update-norm screen is off (stored as 0, whatever the body said): it reads and
  // publishes each hospital's raw update norm, outside the guarantee; the clip bounds them instead.
  if (settings.differentialPrivacy) settings.maxUpdateNormRatio = 0;
  const resolved = parseRunSettings(settings);
  checkPrivacy(resolved);
  return resolved;
}

/** A DP run averages (fedavg, fedavgm), and its budget must allow at least one round. */
function checkPrivacy(settings: RunSettings): void {
  const dp = settings.differentialPrivacy;
  if (!dp) return;
  if (!DP_STRATEGIES.has(settings.strategy.name))
    throw new HttpError(
      400,
      'invalid-request',
      `body/strategy/name: differentialPrivacy takes ${[...DP_STRATEGIES].join(' or ')}, not ${settings.strategy.name}: the noise is calibrated to the clipped mean, and a robust strategy would see only that one noised average`,
    );
  const adaptive = dp.adaptiveClipping;
  if (adaptive && !(adaptive.countNoise > dp.noiseMultiplier / 2))
    throw new HttpError(
      400,
      'invalid-request',
      `body/differentialPrivacy/adaptiveClipping/countNoise: must exceed noiseMultiplier / 2 = ${dp.noiseMultiplier / 2} (Andrew et al. 2021: the update noise is (z^-2 - (2 sigma_b)^-2)^-1/2), got ${adaptive.countNoise}`,
    );
  const first = epsilonAfter(settings, 1);
  if (first > dp.targetEpsilon)
    throw new HttpError(
      400,
      'invalid-request',
      `body/differentialPrivacy/targetEpsilon: one round already costs epsilon ${first.toFixed(4)} > ${dp.targetEpsilon} at delta ${dp.delta} (noiseMultiplier ${dp.noiseMultiplier}, q = clientFraction ${settings.clientFraction}); raise the noise or the budget`,
    );
}

/** The strategy with its own defaults (shared/federated/strategies.ts); a foreign setting is a 400. */
function resolveStrategy(strategy: RunStrategy): RunStrategy {
  try {
    const { fraction: _fraction, ...resolved } = resolveStrategySpec({ ...strategy, fraction: 1 });
    return resolved;
  } catch (error) {
    throw new HttpError(400, 'invalid-request', `body/strategy/${(error as Error).message}`);
  }
}

function canonicalThresholdRule(text: string): string {
  const bad = (reason: string): HttpError =>
    new HttpError(400, 'invalid-request', `body/thresholdRule: ${reason}`);
  let rule: ThresholdRule;
  try {
    rule = parseThresholdRule(text);
  } catch (error) {
    throw bad((error as Error).message);
  }
  if (rule.kind === 'fixed' && !(rule.value >= 0 && rule.value <= 1)) {
    throw bad(`a fixed threshold must be in [0, 1], got ${rule.value}`);
  }
  return formatThresholdRule(rule);
}

/**
 * Settings as stored in TrainingRun.settings, checked. Defaults fill fields added after a run
 * was stored, so a resumed run of an older version still reads. A federation run's stored
 * class weights are left out (storedFederationWeights reads them).
 */
export function parseRunSettings(stored: unknown): RunSettings {
  let value: unknown = stored;
  if (stored !== null && typeof stored === 'object') {
    const { [FEDERATION_WEIGHTS_KEY]: _weights, ...fields } = stored as Record<string, unknown>;
    value = Value.Default(RunSettingsSchema, structuredClone(fields));
  }
  if (!Value.Check(RunSettingsSchema, value)) {
    const first = [...Value.Errors(RunSettingsSchema, value)][0];
    throw new Error(`invalid run settings: ${first?.path ?? ''} ${first?.message ?? ''}`.trim());
  }
  return value;
}

/** What a node needs to build the run's network and read images like it was trained. */
export function nodeModelInput(
  settings: RunSettings,
  model: { id: string; sha256: string },
): NodeModelInput {
  return {
    model: { id: model.id, sha256: model.sha256 },
    architecture: settings.architecture,
    inputSize: settings.inputSize,
    width: settings.width,
    preprocessing: { inputSize: settings.inputSize, normalization: 'per-image', equalize: false },
  };
}

/**
 * The POST /train body of round `round` (1-based). The learning-rate schedule spans the whole
 * run. The local seed differs per round and per attempt, so a round restarted after an
 * aggregator restart is a new job for the node, not a repeat of the old one. `classWeights`
 * (a federation run's) replace the node's own class weights.
 */
export function trainRequest(
  runId: string,
  settings: RunSettings,
  round: number,
  attempt: number,
  model: { id: string; sha256: string },
  classWeights: readonly [number, number] | null = null,
): NodeTrainRequest {
  return {
    runId,
    round,
    ...nodeModelInput(settings, model),
    settings: {
      epochs: settings.localEpochs,
      batchSize: settings.batchSize,
      learningRate: settings.learningRate,
      seed: hashString(`${settings.seed}:${round}:${attempt}`) & 0x7fffffff,
      ...(settings.maxStepsPerEpoch !== undefined && {
        maxStepsPerEpoch: settings.maxStepsPerEpoch,
      }),
      ...(settings.proximalMu !== undefined &&
        settings.proximalMu > 0 && { proximalMu: settings.proximalMu }),
      ...(settings.augmentPolicy === 'strong' && { augmentPolicy: 'strong' as const }),
      ...(classWeights && {
        classBalancing: 'weights' as const,
        classWeights: [classWeights[0], classWeights[1]],
      }),
    },
    schedule: {
      startEpoch: (round - 1) * settings.localEpochs,
      totalEpochs: settings.rounds * settings.localEpochs,
    },
  };
}
