/** A site's operating point: the threshold it set for one model, and on what it chose it. */
import { Type, type Static } from '@sinclair/typebox';
import { SET_THRESHOLD_EXAMPLE } from './examples.ts';

export const MAX_REASON_LENGTH = 500;

const Fraction = (description: string) => Type.Number({ minimum: 0, maximum: 1, description });

export const TargetSchema = Type.Object(
  {
    metric: Type.Union([Type.Literal('sensitivity'), Type.Literal('specificity')]),
    value: Fraction('The sensitivity or specificity asked for'),
  },
  { additionalProperties: false },
);

/** What the site measured when it chose the threshold (fedxray accept sends it). */
export const OperatingPointBasisSchema = Type.Object(
  {
    n: Type.Integer({ minimum: 1, description: 'Labelled images the threshold was chosen on' }),
    target: Type.Optional(TargetSchema),
    sensitivity: Type.Optional(Fraction('Sensitivity at the threshold on those images')),
    specificity: Type.Optional(Fraction('Specificity at the threshold on those images')),
  },
  { additionalProperties: false },
);
export type OperatingPointBasis = Static<typeof OperatingPointBasisSchema>;

const Reason = Type.String({
  minLength: 1,
  maxLength: MAX_REASON_LENGTH,
  description: 'Why (kept in the audit file)',
});

export const SetThresholdBodySchema = Type.Object(
  {
    threshold: Fraction('P(PNEUMONIA) at or above which /diagnose says PNEUMONIA'),
    reason: Reason,
    basis: Type.Optional(OperatingPointBasisSchema),
  },
  { additionalProperties: false, examples: [SET_THRESHOLD_EXAMPLE] },
);
export type SetThresholdBody = Static<typeof SetThresholdBodySchema>;

export const ClearThresholdQuerySchema = Type.Object(
  { reason: Type.Optional(Type.String({ ...Reason, examples: ['back to the model threshold'] })) },
  { additionalProperties: false },
);
export type ClearThresholdQuery = Static<typeof ClearThresholdQuerySchema>;

/** The operating point as /models/current shows it. */
export const OperatingPointViewSchema = Type.Object({
  threshold: Type.Number({ minimum: 0, maximum: 1 }),
  setAt: Type.String({ format: 'date-time' }),
  reason: Type.String(),
  basis: Type.Union([OperatingPointBasisSchema, Type.Null()]),
});
export type OperatingPointView = Static<typeof OperatingPointViewSchema>;

/** One stored operating point: the view plus the model it belongs to. */
export const OperatingPointRecordSchema = Type.Object(
  {
    ...OperatingPointViewSchema.properties,
    // No `format` here: the file is checked with TypeBox's Value, which knows no formats.
    setAt: Type.String({ minLength: 1 }),
    modelId: Type.String(),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  },
  { additionalProperties: false },
);
export type OperatingPointRecord = Static<typeof OperatingPointRecordSchema>;

/** STATE_DIR/operating-point.json: the operating points by the sha256 of their model. */
export const OperatingPointFileSchema = Type.Object({
  format: Type.Literal('fedxray-operating-points'),
  version: Type.Literal(1),
  models: Type.Record(Type.String(), OperatingPointRecordSchema),
});
export type OperatingPointFile = Static<typeof OperatingPointFileSchema>;
