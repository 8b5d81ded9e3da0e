/**
 * An outbound-only hospital node (OUTBOUND_ONLY=true, registered with baseUrl `outbound:`)
 * takes the aggregator's requests by long-polling GET /nodes/work and answers each with
 * POST /nodes/work/{id}: the same signed requests (POST /train, /evaluate, GET /health...)
 * a reachable node gets over HTTP, carried the other way through its own outbound connection.
 */
import { Type, type Static } from '@sinclair/typebox';
import { NODE_WORK_ANSWER_EXAMPLE, NODE_WORK_EXAMPLE } from './examples.ts';

/** The base URL of a hospital whose node dials out instead of listening. */
export const OUTBOUND_BASE_URL = 'outbound:';

export const NodeWorkSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 100 }),
    method: Type.Union([Type.Literal('GET'), Type.Literal('POST')]),
    /** The route on the node, with its query (e.g. /train/abc). */
    path: Type.String({ pattern: '^/', maxLength: 2000 }),
    headers: Type.Record(Type.String(), Type.String()),
    body: Type.Optional(Type.String()),
  },
  { examples: [NODE_WORK_EXAMPLE] },
);
export type NodeWork = Static<typeof NodeWorkSchema>;

export const NodeWorkAnswerSchema = Type.Object(
  {
    status: Type.Integer({ minimum: 100, maximum: 599 }),
    contentType: Type.Optional(Type.String({ maxLength: 200 })),
    body: Type.String({ maxLength: 1024 * 1024 }),
  },
  { examples: [NODE_WORK_ANSWER_EXAMPLE] },
);
export type NodeWorkAnswer = Static<typeof NodeWorkAnswerSchema>;

export const NodeWorkQuerySchema = Type.Object({
  waitSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 30, default: 25, examples: [25] })),
});
