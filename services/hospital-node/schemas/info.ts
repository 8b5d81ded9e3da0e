import { Type, type Static } from '@sinclair/typebox';
import { INFO_EXAMPLE } from './examples.ts';
import { ClassCountsSchema } from './common.ts';

export const InfoResponseSchema = Type.Object(
  {
    hospitalId: Type.String(),
    samples: ClassCountsSchema,
    splits: Type.Object({
      train: Type.Object(ClassCountsSchema.properties, {
        description:
          "The images POST /train trains on, all of them every epoch (an update's numSamples is train.total): what an aggregator sums over its hospitals for federation-wide class weights",
      }),
      validation: Type.Object(ClassCountsSchema.properties, {
        description: 'The images POST /evaluate scores; never trained on',
      }),
    }),
    backend: Type.String({ description: 'The TensorFlow.js backend: tensorflow, wasm or cpu' }),
    trainThreads: Type.Integer({
      description:
        'TRAIN_THREADS: threads local training splits each batch between (models with BatchNorm use one)',
    }),
    version: Type.String(),
    tls: Type.Boolean({ description: 'true when the node answers HTTPS (docs/tls.md)' }),
  },
  { examples: [INFO_EXAMPLE] },
);
export type InfoResponse = Static<typeof InfoResponseSchema>;
