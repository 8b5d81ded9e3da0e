import { Type, type Static } from '@sinclair/typebox';
import { NullableInteger, NullableTimestamp, Timestamp } from './common.ts';

export const CreateHospitalBodySchema = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 100,
      pattern: '^[A-Za-z0-9][A-Za-z0-9 ._-]*$',
      description: 'Unique; letters, digits, space, dot, underscore, hyphen',
    }),
    baseUrl: Type.String({
      pattern: '^https?://[^\\s/?#]+(/[^\\s?#]*)?$',
      maxLength: 500,
      description: "Base URL of the hospital node's API (no query or fragment)",
    }),
  },
  { additionalProperties: false },
);
export type CreateHospitalBody = Static<typeof CreateHospitalBodySchema>;

export const HospitalCreatedSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  baseUrl: Type.String(),
  token: Type.String({
    description:
      "The hospital's token (HOSPITAL_TOKEN of its node). Shown once: only its hash is kept",
  }),
});
export type HospitalCreated = Static<typeof HospitalCreatedSchema>;

export const HospitalViewSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  baseUrl: Type.String(),
  status: Type.Union([Type.Literal('active'), Type.Literal('disabled')]),
  lastSeenAt: NullableTimestamp,
  sampleCount: NullableInteger,
  createdAt: Timestamp,
  tokenRotatedAt: Timestamp,
});
export type HospitalView = Static<typeof HospitalViewSchema>;

export const HospitalListSchema = Type.Object({ hospitals: Type.Array(HospitalViewSchema) });
export type HospitalList = Static<typeof HospitalListSchema>;
