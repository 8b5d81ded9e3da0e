/** Secure aggregation (Bonawitz et al. 2017): the transport-free protocol core. */
export * from './client.ts';
export * from './errors.ts';
export * from './masked-input.ts';
export * from './messages.ts';
export * from './quantize.ts';
export * from './random.ts';
export * from './server.ts';
export * from './schemas.ts';
export * from './model-update.ts';
