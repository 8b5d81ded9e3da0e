// The images' HEALTHCHECK (Dockerfile; also compose.yaml's healthchecks): GET /health on this
// container's own service, with Node's fetch (the slim base image has no curl). Exit 0 when it
// answers 200, else 1. The port is the service's PORT; HOST, when it names one address, is
// asked instead of 127.0.0.1. With TLS_CERT_FILE set the service answers HTTPS only
// (docs/tls.md): then the request goes over node:https without checking the certificate,
// which names the public host, not 127.0.0.1, and nothing secret is sent.
//
//   node deploy/docker/healthcheck.mjs [path]     (default /health)
/* global fetch, AbortSignal */
import { request } from 'node:https';

const TIMEOUT_MS = 4000;
const path = process.argv[2] ?? '/health';
const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`healthcheck: PORT is not a port number (${process.env.PORT ?? 'unset'})`);
  process.exit(1);
}
const listen = process.env.HOST?.trim();
const host = !listen || listen === '0.0.0.0' || listen === '::' ? '127.0.0.1' : listen;

function done(status) {
  if (status !== 200) console.error(`healthcheck: ${path} answered ${status}`);
  process.exit(status === 200 ? 0 : 1);
}

function failed(error) {
  console.error(`healthcheck: ${path} failed: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}

if (process.env.TLS_CERT_FILE) {
  const req = request(
    { host, port, path, method: 'GET', rejectUnauthorized: false, timeout: TIMEOUT_MS },
    (res) => {
      res.resume();
      done(res.statusCode);
    },
  );
  req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
  req.on('error', failed);
  req.end();
} else {
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`;
  fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) }).then((res) => done(res.status), failed);
}
