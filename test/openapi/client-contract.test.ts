/**
 * The typed clients (shared/client) against the services' OpenAPI documents: every route a
 * client calls exists with its method, and the schemas the client types its bodies and answers
 * with are the ones the routes declare.
 */
import swagger from '@fastify/swagger';
import type { TSchema } from '@sinclair/typebox';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { AGGREGATOR_ROUTES } from '../../shared/client/aggregator.ts';
import { HOSPITAL_NODE_ROUTES } from '../../shared/client/hospital-node.ts';
import type { Route } from '../../shared/client/http.ts';
import { DIAGNOSE_QUERY, INFERENCE_ROUTES } from '../../shared/client/inference-api.ts';
import {
  useServiceDocuments,
  type OpenApiDocument,
  type OpenApiOperation,
  type ServiceName,
} from './service-docs.ts';

type AnyRoute = Route<TSchema | undefined, TSchema | undefined>;

const CLIENTS: Array<[ServiceName, Record<string, AnyRoute>]> = [
  ['aggregator', AGGREGATOR_ROUTES],
  ['hospital-node', HOSPITAL_NODE_ROUTES],
  ['inference-api', INFERENCE_ROUTES],
];

/**
 * The OpenAPI document of the clients' own route tables, made by the same @fastify/swagger the
 * services use: a route's schemas come out of it exactly as the service's would if they are
 * the same schemas.
 */
async function clientDocument(routes: Record<string, AnyRoute>): Promise<OpenApiDocument> {
  const app = Fastify();
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  await app.register(swagger, {
    openapi: { openapi: '3.0.3', info: { title: 'client', version: '0' } },
  });
  for (const r of Object.values(routes)) {
    app.route({
      method: r.method,
      url: r.path.replace(/\{(\w+)\}/g, ':$1'),
      schema: {
        ...(r.body ? { body: r.body } : {}),
        ...(r.response ? { response: { [r.status]: r.response } } : {}),
      },
      handler: async () => ({}),
    });
  }
  await app.ready();
  const document = app.swagger() as unknown as OpenApiDocument;
  await app.close();
  return document;
}

const bodySchema = (operation: OpenApiOperation | undefined) =>
  Object.values(operation?.requestBody?.content ?? {})[0]?.schema;

describe('typed clients vs OpenAPI', () => {
  const documents = useServiceDocuments();

  const cases = CLIENTS.flatMap(([service, routes]) =>
    Object.entries(routes).map(([name, r]) => [`${service} ${name}`, service, r] as const),
  );

  it.each(cases)(
    '%s: the route and its schemas are the documented ones',
    async (_n, service, r) => {
      const operation = documents[service].paths[r.path]?.[r.method.toLowerCase()];
      expect(operation, `${r.method} ${r.path} in the ${service} document`).toBeDefined();
      const answer = operation?.responses?.[String(r.status)];
      expect(answer, `${r.method} ${r.path} answers ${r.status}`).toBeDefined();
      const client = (await clientDocument({ r })).paths[r.path][r.method.toLowerCase()];
      if (r.response) {
        expect(answer?.content?.['application/json']?.schema).toEqual(
          client.responses?.[String(r.status)].content?.['application/json']?.schema,
        );
      }
      if (r.body) expect(bodySchema(operation)).toEqual(bodySchema(client));
    },
  );

  it('tells a schema from another: a client typed with the wrong one fails', async () => {
    const wrong = { ...AGGREGATOR_ROUTES.getRun, response: AGGREGATOR_ROUTES.listRuns.response };
    const client = (await clientDocument({ wrong })).paths['/rounds/{id}'].get;
    expect(client.responses?.['200'].content?.['application/json']?.schema).not.toEqual(
      documents.aggregator.paths['/rounds/{id}'].get.responses?.['200'].content?.[
        'application/json'
      ]?.schema,
    );
  });

  it("documents POST /diagnose's explain query the client sends", () => {
    const parameters = documents['inference-api'].paths['/diagnose'].post.parameters ?? [];
    const explain = parameters.find((p) => p.in === 'query' && p.name === 'explain');
    expect(explain).toBeDefined();
    expect(explain?.schema?.type).toBe(DIAGNOSE_QUERY.properties.explain.type);
  });
});
