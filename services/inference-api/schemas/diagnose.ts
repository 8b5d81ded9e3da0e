import { Type, type Static } from '@sinclair/typebox';
import { ModelRefSchema } from './model.ts';

export const DISCLAIMER = 'Research use only. Not a medical device; not for clinical decisions.';

/** The multipart body, for the OpenAPI document (the handler reads and checks the stream). */
export const DiagnoseBodySchema = Type.Object({
  image: Type.String({
    format: 'binary',
    description: 'A chest X-ray, JPEG or PNG (gray or colour, at least 32 x 32 pixels)',
  }),
});

const Probability = Type.Number({ minimum: 0, maximum: 1 });

export const DiagnosisSchema = Type.Object({
  label: Type.Union([Type.Literal('NORMAL'), Type.Literal('PNEUMONIA')]),
  probability: Type.Number({ minimum: 0, maximum: 1, description: 'P(PNEUMONIA)' }),
  probabilities: Type.Object({ NORMAL: Probability, PNEUMONIA: Probability }),
  threshold: Type.Number({ description: 'label is PNEUMONIA when probability >= threshold' }),
  model: ModelRefSchema,
  timingMs: Type.Number({ description: 'Decoding and inference time on the server' }),
  disclaimer: Type.Literal(DISCLAIMER),
});
export type Diagnosis = Static<typeof DiagnosisSchema>;
