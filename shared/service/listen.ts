import type { FastifyInstance } from 'fastify';

/**
 * Listens, and closes gracefully on SIGINT/SIGTERM: stop accepting, let requests in flight
 * finish (fastify's close), run onClose hooks, then exit. A second signal exits at once.
 */
export async function listenWithGracefulShutdown(
  app: FastifyInstance,
  options: { port: number; host: string },
): Promise<string> {
  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) process.exit(1);
    closing = true;
    app.log.info({ signal }, 'shutting down');
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.log.error({ err: error }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  return app.listen(options);
}
