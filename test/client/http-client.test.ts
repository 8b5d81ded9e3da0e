/** The typed clients' transport: URLs, credentials, timeouts and errors as ApiError. */
import { createServer, type Server } from 'node:http';
import { Type } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, HttpClient, route } from '../../shared/client/http.ts';
import { readServerSentEvents } from '../../shared/client/sse.ts';
import { deadUrl } from '../aggregator/helpers.ts';

const Thing = Type.Object({ id: Type.String() });
const getThing = route('GET', '/things/{id}', { response: Thing });
const putThing = route('PUT', '/things/{id}', { body: Thing, response: Thing });

let server: Server;
let baseUrl: string;
const seen: Array<{ method?: string; url?: string; auth?: string; body: string }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body });
      if (req.url?.startsWith('/things/slow')) return; // never answers
      if (req.url?.startsWith('/things/missing')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        return res.end(
          JSON.stringify({
            error: { code: 'thing-not-found', message: 'no thing', requestId: 'r-1' },
          }),
        );
      }
      if (req.url?.startsWith('/things/proxy')) {
        res.writeHead(502, { 'content-type': 'text/html' });
        return res.end('<html>bad gateway</html>');
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body || JSON.stringify({ id: decodeURIComponent(req.url?.split('/')[2] ?? '') }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('HttpClient', () => {
  it('fills the path, sends the bearer token and JSON, and answers the parsed body', async () => {
    const client = new HttpClient({ baseUrl, token: 'secret' });
    expect(await client.call(getThing, { params: { id: 'a b' } })).toEqual({ id: 'a b' });
    expect(await client.call(putThing, { params: { id: 'x' }, body: { id: 'y' } })).toEqual({
      id: 'y',
    });
    expect(seen.slice(-2)).toEqual([
      { method: 'GET', url: '/things/a%20b', auth: 'Bearer secret', body: '' },
      { method: 'PUT', url: '/things/x', auth: 'Bearer secret', body: '{"id":"y"}' },
    ]);
  });

  it("throws ApiError with the service's JSON error body", async () => {
    const error = await new HttpClient({ baseUrl })
      .call(getThing, { params: { id: 'missing' } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 404,
      code: 'thing-not-found',
      requestId: 'r-1',
      message: 'GET /things/{id}: HTTP 404 thing-not-found: no thing',
      body: { error: { code: 'thing-not-found', message: 'no thing' } },
    });
  });

  it('throws http-error for an answer that is not a fedxray error body', async () => {
    const error = await new HttpClient({ baseUrl })
      .call(getThing, { params: { id: 'proxy' } })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 502, code: 'http-error', body: undefined });
  });

  it('throws timeout when no answer comes in time, network-error when nothing listens', async () => {
    const slow = await new HttpClient({ baseUrl, timeoutMs: 100 })
      .call(getThing, { params: { id: 'slow' } })
      .catch((e: unknown) => e);
    expect(slow).toMatchObject({ status: 0, code: 'timeout' });
    const dead = await new HttpClient({ baseUrl: await deadUrl() })
      .call(getThing, { params: { id: 'a' } })
      .catch((e: unknown) => e);
    expect(dead).toMatchObject({ status: 0, code: 'network-error' });
    expect((dead as ApiError).message).toMatch(/ECONNREFUSED/);
  });
});

describe('readServerSentEvents', () => {
  it('splits messages across chunks, joins data lines and skips comments', async () => {
    const chunks = [
      ': hello\n\nevent: a\nda',
      'ta: {"x":1}\n\n',
      'event: b\ndata: 1\ndata: 2\r\n\r\n',
    ];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
        controller.close();
      },
    });
    const messages = [];
    for await (const message of readServerSentEvents(body)) messages.push(message);
    expect(messages).toEqual([
      { event: 'a', data: '{"x":1}' },
      { event: 'b', data: '1\n2' },
    ]);
  });
});
