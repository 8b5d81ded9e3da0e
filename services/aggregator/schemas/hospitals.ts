import { Type, type Static } from '@sinclair/typebox';
import {
  CREATE_HOSPITAL_EXAMPLE,
  HOSPITAL_CREATED_EXAMPLE,
  HOSPITAL_LIST_EXAMPLE,
  HOSPITAL_TOKEN_ROTATED_EXAMPLE,
  HOSPITAL_VIEW_EXAMPLE,
  ROTATE_TOKEN_EXAMPLE,
  UPDATE_HOSPITAL_EXAMPLE,
} from './examples.ts';
import { NullableInteger, NullableTimestamp, Timestamp } from './common.ts';

const BaseUrl = Type.String({
  pattern: '^(https?://[^\\s/?#]+(/[^\\s?#]*)?|outbound:)$',
  maxLength: 500,
  description:
    "Base URL of the hospital node's API (no query or fragment), or `outbound:` for a node " +
    'behind a firewall that takes its work by polling GET /nodes/work (OUTBOUND_ONLY on the node)',
});

export const HospitalStatusSchema = Type.Union([Type.Literal('active'), Type.Literal('disabled')], {
  description:
    'disabled: its token answers 403 hospital-disabled and it is not selected for rounds',
});
export type HospitalStatus = Static<typeof HospitalStatusSchema>;

/** A hospital's or a reader's name. */
export const UniqueName = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: '^[A-Za-z0-9][A-Za-z0-9 ._-]*$',
  description: 'Unique; letters, digits, space, dot, underscore, hyphen',
});

export const CreateHospitalBodySchema = Type.Object(
  {
    name: UniqueName,
    baseUrl: BaseUrl,
  },
  { additionalProperties: false, examples: [CREATE_HOSPITAL_EXAMPLE] },
);
export type CreateHospitalBody = Static<typeof CreateHospitalBodySchema>;

export const HospitalCreatedSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    baseUrl: Type.String(),
    token: Type.String({
      description:
        "The hospital's token (HOSPITAL_TOKEN of its node). Shown once: only its hash is kept",
    }),
  },
  { examples: [HOSPITAL_CREATED_EXAMPLE] },
);
export type HospitalCreated = Static<typeof HospitalCreatedSchema>;

export const PreviousTokenExpiresAt = Type.Union([Timestamp, Type.Null()], {
  description:
    'Until when the token replaced by the last rotation is still accepted (its graceSeconds); ' +
    'null when no previous token is accepted',
});

export const HospitalViewSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    baseUrl: Type.String(),
    status: HospitalStatusSchema,
    lastSeenAt: NullableTimestamp,
    sampleCount: NullableInteger,
    createdAt: Timestamp,
    tokenRotatedAt: Timestamp,
    previousTokenExpiresAt: PreviousTokenExpiresAt,
  },
  { examples: [HOSPITAL_VIEW_EXAMPLE] },
);
export type HospitalView = Static<typeof HospitalViewSchema>;

export const HospitalListSchema = Type.Object(
  { hospitals: Type.Array(HospitalViewSchema) },
  { examples: [HOSPITAL_LIST_EXAMPLE] },
);
export type HospitalList = Static<typeof HospitalListSchema>;

/** PATCH /hospitals/:id: what to change, at least one field. */
export const UpdateHospitalBodySchema = Type.Object(
  {
    status: Type.Optional(HospitalStatusSchema),
    baseUrl: Type.Optional(BaseUrl),
  },
  { additionalProperties: false, minProperties: 1, examples: [UPDATE_HOSPITAL_EXAMPLE] },
);
export type UpdateHospitalBody = Static<typeof UpdateHospitalBodySchema>;

/** The longest grace of a rotated-out hospital or reader token: 7 days. */
export const MAX_TOKEN_GRACE_SECONDS = 604_800;

/** POST /hospitals/:id/token, POST /readers/:id/token: how long the replaced token stays valid. */
export const RotateTokenBodySchema = Type.Object(
  {
    graceSeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_TOKEN_GRACE_SECONDS,
        description:
          'Seconds the token being replaced is still accepted (0, the default: refused at ' +
          'once; at most 7 days). Only one previous token is kept: a rotation replaces it',
      }),
    ),
  },
  { additionalProperties: false, examples: [ROTATE_TOKEN_EXAMPLE] },
);
export type RotateTokenBody = Static<typeof RotateTokenBodySchema>;

/** POST /hospitals/:id/token: the new token, shown once. */
export const HospitalTokenRotatedSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    token: Type.String({
      description:
        "The hospital's new token (HOSPITAL_TOKEN of its node). Shown once: only its hash is kept",
    }),
    tokenRotatedAt: Timestamp,
    previousTokenExpiresAt: PreviousTokenExpiresAt,
  },
  { examples: [HOSPITAL_TOKEN_ROTATED_EXAMPLE] },
);
export type HospitalTokenRotated = Static<typeof HospitalTokenRotatedSchema>;
