// Whether an error means "the database cannot be reached right now" (server down, restarting,
// connections cut) rather than a bad query: callers wait and try again instead of failing.
// Duck-typed so that services without Prisma can use it too.

/** Prisma's codes for an unreachable server, a closed connection or a pool time-out. */
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
/** What @prisma/driver-adapter-utils reports for the same (meta.driverAdapterError.cause.kind). */
const ADAPTER_KINDS = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
]);
/** PostgreSQL SQLSTATEs: admin shutdown, crash shutdown, cannot connect now, connection errors. */
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006']);
const NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);
const MESSAGES = /Connection terminated|server closed the connection|Can't reach database server/i;

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  kind?: unknown;
  message?: unknown;
  meta?: { driverAdapterError?: { cause?: { kind?: unknown; code?: unknown } } };
  cause?: unknown;
}

export function isDatabaseUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current !== null && typeof current === 'object'; depth++) {
    const e = current as ErrorLike;
    if (e.name === 'PrismaClientInitializationError') return true;
    if (typeof e.code === 'string') {
      if (PRISMA_CODES.has(e.code) || SQLSTATES.has(e.code) || NODE_CODES.has(e.code)) return true;
    }
    if (typeof e.kind === 'string' && ADAPTER_KINDS.has(e.kind)) return true;
    const adapterCause = e.meta?.driverAdapterError?.cause;
    if (typeof adapterCause?.kind === 'string' && ADAPTER_KINDS.has(adapterCause.kind)) return true;
    if (typeof adapterCause?.code === 'string' && SQLSTATES.has(adapterCause.code)) return true;
    if (typeof e.message === 'string' && MESSAGES.test(e.message)) return true;
    current = e.cause;
  }
  return false;
}
