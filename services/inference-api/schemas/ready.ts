import { Type, type Static } from '@sinclair/typebox';
import { ModelRefSchema } from './model.ts';

export const ReadySchema = Type.Object({
  ready: Type.Literal(true),
  model: ModelRefSchema,
});
export type Ready = Static<typeof ReadySchema>;
