import { Type, type Static } from '@sinclair/typebox';
import { ClassCountsSchema } from './common.ts';

export const InfoResponseSchema = Type.Object({
  hospitalId: Type.String(),
  samples: ClassCountsSchema,
  splits: Type.Object({ train: ClassCountsSchema, validation: ClassCountsSchema }),
  backend: Type.String({ description: 'The TensorFlow.js backend: tensorflow, wasm or cpu' }),
  version: Type.String(),
  tls: Type.Boolean({ description: 'true when the node answers HTTPS (docs/tls.md)' }),
});
export type InfoResponse = Static<typeof InfoResponseSchema>;
