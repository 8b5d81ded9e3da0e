import { Type } from '@sinclair/typebox';

/**
 * The whole-request deadline (headers and body) against slow clients: a body trickled in byte
 * by byte would otherwise hold a connection, and an upload's memory, for as long as the client
 * likes. Node answers `408 Request Timeout` and closes the connection.
 *
 * Node 20 only enforces `requestTimeout` when it is given to `http.createServer` /
 * `https.createServer` (setting `server.requestTimeout` afterwards, as fastify's own option
 * does, is not enforced: checked), and checks connections every `connectionsCheckingInterval`.
 */
export const REQUEST_TIMEOUT_ENV = 'REQUEST_TIMEOUT_MS';

/** How often Node looks for expired requests: the cut comes at most this late. */
export const CONNECTION_CHECK_INTERVAL_MS = 1000;
const HEADERS_TIMEOUT_MS = 60_000;

/** The config field each service spreads into its schema, with its own default. */
export function requestTimeoutField(defaultMs: number) {
  return {
    /** Milliseconds a client has to send a whole request; 0 = no limit. */
    requestTimeoutMs: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 3_600_000, default: defaultMs }),
    ),
  };
}

/** The server options that make Node enforce it (for http and https alike). */
export function requestTimeoutServerOptions(timeoutMs: number): {
  requestTimeout: number;
  headersTimeout: number;
  connectionsCheckingInterval: number;
} {
  return {
    requestTimeout: timeoutMs,
    // Node's default, which may not exceed requestTimeout (and would be 0 with a 0 timeout).
    headersTimeout: timeoutMs > 0 ? Math.min(HEADERS_TIMEOUT_MS, timeoutMs) : HEADERS_TIMEOUT_MS,
    connectionsCheckingInterval:
      timeoutMs > 0
        ? Math.max(100, Math.min(CONNECTION_CHECK_INTERVAL_MS, Math.floor(timeoutMs / 2)))
        : CONNECTION_CHECK_INTERVAL_MS,
  };
}
