// Whether a completed run's final model may go into production automatically: the run's
// promotion gate (settings.promotionGate, optional) and the degenerate-model guard (always on),
// both read from the version's validation summary (metrics.validation, aggregation.ts).
import {
  parseModelMetrics,
  type StoredPointMetrics,
} from '../../../shared/protocol/stored-metrics.ts';
import type { PromotionGate } from '../schemas/runs.ts';

/**
 * The threshold the hospitals evaluate at: evaluateCandidate sends none, and a node's
 * POST /evaluate uses 0.5 then. The summary's top-level accuracy, recall, specificity and
 * confusion are at it.
 */
export const EVALUATION_THRESHOLD = 0.5;

/** What the gate reads of a model version (a ModelVersion row). */
export interface GatedModel {
  id: string;
  version: number;
  metrics: unknown;
  metadata: unknown;
}

interface Confusion {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

/** Accuracy, recall, specificity and confusion counts at one threshold. */
interface PointMetrics {
  threshold: number;
  accuracy: number | null;
  recall: number | null;
  specificity: number | null;
  confusion: Confusion | null;
}

/** The parts of a validation summary the gate and the guard read. */
export interface GateInputs {
  /** The version's decision threshold (metadata.threshold.threshold; 0.5 when absent). */
  threshold: number;
  auc: number | null;
  /** At the hospitals' evaluation threshold, 0.5 (the summary's top-level fields). */
  atEvaluation: PointMetrics;
  /**
   * At the version's own threshold: validation.atThreshold when the summary has it (exact, from
   * the pooled histograms), else the top-level values when the version's threshold is 0.5;
   * null when neither (a threshold that is not a histogram bin edge, or no histograms).
   */
  atModel: PointMetrics | null;
}

const GATE_METRICS = [
  ['minAccuracy', 'accuracy'],
  ['minRecall', 'recall'],
  ['minSpecificity', 'specificity'],
] as const;

/**
 * Why the final model must not be promoted automatically, or null when it may be. Reasons,
 * joined by '; ':
 * - the guard: with both classes in the validation data (tp + fn > 0 and tn + fp > 0), the
 *   model predicts only one (tp + fp = 0: every image NORMAL; tn + fn = 0: every image
 *   PNEUMONIA) at its own threshold;
 * - a gate given and no validation summary (no hospital evaluated the model);
 * - each minimum of the gate not met, or that cannot be read at the model's threshold.
 */
export function promotionRefusal(
  gate: PromotionGate | undefined,
  model: GatedModel,
): string | null {
  const inputs = gateInputs(model);
  const reasons: string[] = [];
  if (inputs) {
    const degenerate = degenerateReason(inputs);
    if (degenerate) reasons.push(degenerate);
  }
  if (gate) {
    if (!inputs) {
      reasons.push(
        'promotionGate: the final model has no validation summary (no hospital evaluated it)',
      );
    } else {
      reasons.push(...gateReasons(gate, inputs));
    }
  }
  if (reasons.length === 0) return null;
  return (
    `${reasons.join('; ')}. Not promoted automatically: production is unchanged; ` +
    `an admin can still promote version ${model.version} with POST /models/${model.id}/promote`
  );
}

/** The summary's fields the gate reads, or null when the version has no validation summary. */
export function gateInputs(model: GatedModel): GateInputs | null {
  const validation = parseModelMetrics(model.metrics).validation;
  if (!validation) return null;
  const threshold = number(field(field(model.metadata, 'threshold'), 'threshold'));
  const modelThreshold = threshold ?? EVALUATION_THRESHOLD;
  const atEvaluation = pointMetrics(validation, EVALUATION_THRESHOLD);
  const pooled = validation.atThreshold;
  let atModel: PointMetrics | null = null;
  if (pooled) {
    atModel = pointMetrics(pooled, pooled.threshold ?? modelThreshold);
  } else if (modelThreshold === EVALUATION_THRESHOLD) {
    atModel = atEvaluation;
  }
  return { threshold: modelThreshold, auc: validation.auc ?? null, atEvaluation, atModel };
}

/**
 * The class a model predicts for every validation image (with both classes present), or null.
 * At the model's threshold when its counts are known there; else from the counts at 0.5 when
 * they decide it (a prediction is PNEUMONIA iff score >= threshold: every image NORMAL at 0.5
 * stays so at any higher threshold, every image PNEUMONIA at any lower one).
 */
export function predictedClass(inputs: GateInputs): {
  label: 'NORMAL' | 'PNEUMONIA';
  at: PointMetrics;
  /** Whether `at` are the counts at the model's own threshold (else at 0.5). */
  exact: boolean;
} | null {
  const judge = (at: PointMetrics) => {
    const c = at.confusion;
    if (!c || c.tp + c.fn === 0 || c.tn + c.fp === 0) return null;
    if (c.tp + c.fp === 0) return 'NORMAL' as const;
    if (c.tn + c.fn === 0) return 'PNEUMONIA' as const;
    return null;
  };
  if (inputs.atModel) {
    const label = judge(inputs.atModel);
    return label && { label, at: inputs.atModel, exact: true };
  }
  const label = judge(inputs.atEvaluation);
  const decided =
    (label === 'NORMAL' && inputs.threshold >= EVALUATION_THRESHOLD) ||
    (label === 'PNEUMONIA' && inputs.threshold <= EVALUATION_THRESHOLD);
  return label && decided ? { label, at: inputs.atEvaluation, exact: false } : null;
}

function degenerateReason(inputs: GateInputs): string | null {
  const found = predictedClass(inputs);
  if (!found) return null;
  const { label, at, exact } = found;
  const c = at.confusion as Confusion;
  const n = c.tp + c.fp + c.tn + c.fn;
  const where = exact
    ? `at its threshold ${fmt(at.threshold)}`
    : `at the hospitals' evaluation threshold ${fmt(at.threshold)}, so also at its ` +
      `${label === 'NORMAL' ? 'higher' : 'lower'} threshold ${fmt(inputs.threshold)}`;
  return (
    `the final model calls every validation image ${label} ${where} ` +
    `(n = ${n}: tp ${c.tp}, fp ${c.fp}, tn ${c.tn}, fn ${c.fn})`
  );
}

function gateReasons(gate: PromotionGate, inputs: GateInputs): string[] {
  const reasons: string[] = [];
  if (gate.minAuc !== undefined) {
    const auc = inputs.auc;
    if (auc === null) {
      reasons.push('promotionGate.minAuc: the validation summary has no AUC');
    } else if (auc < gate.minAuc) {
      reasons.push(`promotionGate.minAuc: validation AUC ${fmtBelow(auc, gate.minAuc)}`);
    }
  }
  for (const [key, metric] of GATE_METRICS) {
    const limit = gate[key];
    if (limit === undefined) continue;
    const at = inputs.atModel;
    const value = at?.[metric] ?? null;
    if (!at || value === null) {
      reasons.push(
        `promotionGate.${key}: the validation ${metric} at the model's threshold ` +
          `${fmt(inputs.threshold)} is not known (the summary has exact pooled counts only at a ` +
          `histogram bin edge, and the hospitals evaluate at ${EVALUATION_THRESHOLD})`,
      );
    } else if (value < limit) {
      reasons.push(
        `promotionGate.${key}: validation ${metric} ${fmtBelow(value, limit)} ` +
          `(at the model's threshold ${fmt(at.threshold)})`,
      );
    }
  }
  return reasons;
}

function pointMetrics(source: StoredPointMetrics, threshold: number): PointMetrics {
  return {
    threshold,
    accuracy: source.accuracy ?? null,
    recall: source.recall ?? null,
    specificity: source.specificity ?? null,
    confusion: source.confusion ?? null,
  };
}

/** `value` is below `limit`: "0.8731 < 0.9", with the digits that show it. */
function fmtBelow(value: number, limit: number): string {
  const shown = fmt(value) === fmt(limit) ? String(value) : fmt(value);
  return `${shown} < ${fmt(limit)}`;
}

function fmt(x: number): string {
  return String(Number(x.toFixed(4)));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function field(value: unknown, key: string): unknown {
  return isObject(value) ? value[key] : undefined;
}

function number(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
