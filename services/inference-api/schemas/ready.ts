import { Type, type Static } from '@sinclair/typebox';
import { READY_EXAMPLE } from './examples.ts';
import { ModelRefSchema } from './model.ts';

export const ReadySchema = Type.Object(
  {
    ready: Type.Literal(true),
    model: ModelRefSchema,
    inFlight: Type.Integer({
      minimum: 0,
      description: 'POST /diagnose requests in flight now (past the key and rate limit checks)',
    }),
    maxConcurrentDiagnoses: Type.Integer({
      minimum: 0,
      description: 'MAX_CONCURRENT_DIAGNOSES: beyond it /diagnose answers 503 busy; 0 = no cap',
    }),
  },
  { examples: [READY_EXAMPLE] },
);
export type Ready = Static<typeof ReadySchema>;
