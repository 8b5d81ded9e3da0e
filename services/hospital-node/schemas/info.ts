import { Type, type Static } from '@sinclair/typebox';
import { ClassCountsSchema } from './common.ts';

export const InfoResponseSchema = Type.Object({
  hospitalId: Type.String(),
  samples: ClassCountsSchema,
  splits: Type.Object({ train: ClassCountsSchema, validation: ClassCountsSchema }),
  backend: Type.String({ description: 'The TensorFlow.js backend: tensorflow, wasm or cpu' }),
  trainThreads: Type.Integer({
    description:
      'TRAIN_THREADS: threads local training splits each batch between (models with BatchNorm use one)',
  }),
  version: Type.String(),
  tls: Type.Boolean({ description: 'true when the node answers HTTPS (docs/tls.md)' }),
});
export type InfoResponse = Static<typeof InfoResponseSchema>;
