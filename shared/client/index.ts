/** Typed clients of the three fedxray services, on their own TypeBox schemas. */
export * from './aggregator.ts';
export * from './hospital-node.ts';
export * from './http.ts';
export * from './inference-api.ts';
export * from './sse.ts';
