/**
 * The metrics JSON the aggregator stores (ClientUpdate.metrics, ModelVersion.metrics), as
 * TypeBox schemas and one parse per column, used where a row leaves the database. Every field
 * is optional: rows written by older versions stay readable, and a malformed field reads as
 * absent rather than as a wrong number.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const Metric = Type.Number();

/** A hospital's local training metrics (the `metrics` of its update, docs/protocol.md). */
export const UpdateMetricsSchema = Type.Object({
  loss: Type.Optional(Metric),
  accuracy: Type.Optional(Metric),
});
export type UpdateMetrics = Static<typeof UpdateMetricsSchema>;

export const ConfusionSchema = Type.Object({
  tp: Type.Integer({ minimum: 0 }),
  fp: Type.Integer({ minimum: 0 }),
  tn: Type.Integer({ minimum: 0 }),
  fn: Type.Integer({ minimum: 0 }),
});

/** Accuracy, recall, specificity and counts at one threshold (the pooled `atThreshold`). */
const PointMetricsSchema = Type.Object({
  threshold: Type.Optional(Metric),
  accuracy: Type.Optional(Metric),
  recall: Type.Optional(Metric),
  specificity: Type.Optional(Metric),
  confusion: Type.Optional(ConfusionSchema),
});

/** The hospitals' validation summary of a model version (aggregation.ts validationSummary). */
export const StoredValidationSchema = Type.Composite([
  PointMetricsSchema,
  Type.Object({
    n: Type.Optional(Type.Integer()),
    loss: Type.Optional(Metric),
    auc: Type.Optional(Metric),
    atThreshold: Type.Optional(Type.Union([PointMetricsSchema, Type.Null()])),
  }),
]);
export type StoredValidation = Static<typeof StoredValidationSchema>;
export type StoredPointMetrics = Static<typeof PointMetricsSchema>;

/** What is read back of ModelVersion.metrics (the rest is shown as stored). */
export const ModelMetricsSchema = Type.Object({
  validation: Type.Optional(Type.Union([StoredValidationSchema, Type.Null()])),
});
export type ModelMetrics = Static<typeof ModelMetricsSchema>;

/** `json` as `T` when it matches, dropping non-finite numbers field by field; else `{}`. */
function parseObject<T extends TSchema>(schema: T, json: unknown): Partial<Static<T>> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return {};
  const record = json as Record<string, unknown>;
  const properties = (schema as unknown as { properties: Record<string, TSchema> }).properties;
  const out: Record<string, unknown> = {};
  for (const [key, property] of Object.entries(properties)) {
    const value = record[key];
    if (value === undefined || (typeof value === 'number' && !Number.isFinite(value))) continue;
    if (Value.Check(property, value)) out[key] = value;
  }
  return out as Partial<Static<T>>;
}

export function parseUpdateMetrics(json: unknown): UpdateMetrics {
  return parseObject(UpdateMetricsSchema, json);
}

export function parseModelMetrics(json: unknown): ModelMetrics {
  const validation = (json as { validation?: unknown } | null)?.validation;
  if (validation === null) return { validation: null };
  if (validation === undefined || typeof validation !== 'object') return {};
  const parsed: StoredValidation = parseObject(StoredValidationSchema, validation);
  const pooled = (validation as { atThreshold?: unknown }).atThreshold;
  if (pooled !== undefined && parsed.atThreshold === undefined) {
    // A malformed pooled block: keep its readable fields, as for the summary itself.
    parsed.atThreshold = pooled === null ? null : parseObject(PointMetricsSchema, pooled);
  }
  return { validation: parsed };
}
