/**
 * Every route of the three services documents an example of its JSON answer and JSON request
 * body (and of its query parameters), and the error answers a caller can cause; and every
 * example fits the schema it illustrates.
 */
import { Kind, type TSchema } from '@sinclair/typebox';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import * as aggregatorHospitals from '../../services/aggregator/schemas/hospitals.ts';
import * as aggregatorModels from '../../services/aggregator/schemas/models.ts';
import * as aggregatorReaders from '../../services/aggregator/schemas/readers.ts';
import * as aggregatorRuns from '../../services/aggregator/schemas/runs.ts';
import * as aggregatorUpdates from '../../services/aggregator/schemas/updates.ts';
import * as aggregatorDashboard from '../../services/aggregator/schemas/dashboard.ts';
import * as hospitalEvaluate from '../../services/hospital-node/schemas/evaluate.ts';
import * as hospitalInfo from '../../services/hospital-node/schemas/info.ts';
import * as hospitalJob from '../../services/hospital-node/schemas/job.ts';
import * as hospitalTrain from '../../services/hospital-node/schemas/train.ts';
import * as inferenceDiagnose from '../../services/inference-api/schemas/diagnose.ts';
import * as inferenceModel from '../../services/inference-api/schemas/model.ts';
import * as inferenceOperatingPoint from '../../services/inference-api/schemas/operating-point.ts';
import * as inferenceReady from '../../services/inference-api/schemas/ready.ts';
import * as nodeWork from '../../shared/protocol/node-work.ts';
import { useServiceDocuments, type OpenApiOperation } from './service-docs.ts';

const SCHEMA_MODULES = {
  aggregatorHospitals,
  aggregatorModels,
  aggregatorReaders,
  aggregatorRuns,
  aggregatorUpdates,
  aggregatorDashboard,
  hospitalEvaluate,
  hospitalInfo,
  hospitalJob,
  hospitalTrain,
  inferenceDiagnose,
  inferenceModel,
  inferenceOperatingPoint,
  inferenceReady,
  nodeWork,
};

function isTypeBoxSchema(value: unknown): value is TSchema & { examples?: unknown[] } {
  return typeof value === 'object' && value !== null && Kind in value;
}

describe('schema examples', () => {
  const annotated = Object.entries(SCHEMA_MODULES).flatMap(([module, exports]) =>
    Object.entries(exports)
      .filter(([, value]) => isTypeBoxSchema(value) && Array.isArray(value.examples))
      .map(([name, value]) => ({ name: `${module}.${name}`, schema: value as TSchema })),
  );
  // Checked by fastify's own validator, as the services check bodies (formats, Type.Unsafe),
  // with nothing removed or coerced: each example must fit as written.
  const checker = Fastify({
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  });
  annotated.forEach(({ schema }, i) => {
    checker.post(`/check/${i}`, { schema: { body: schema } }, async () => ({ ok: true }));
  });

  afterAll(() => checker.close());

  it('annotates the contracts', () => {
    expect(annotated.length).toBeGreaterThanOrEqual(25);
  });

  it.each(annotated.map(({ name }, i) => [name, i] as const))(
    '%s: each example fits its schema',
    async (_name, i) => {
      for (const example of (annotated[i].schema as { examples: unknown[] }).examples) {
        const res = await checker.inject({
          method: 'POST',
          url: `/check/${i}`,
          payload: example as object,
        });
        expect(res.json()).toEqual({ ok: true });
      }
    },
  );
});

const JSON_TYPE = 'application/json';

function hasExample(media: {
  schema?: Record<string, unknown>;
  example?: unknown;
  examples?: unknown;
}) {
  return (
    media.example !== undefined ||
    media.examples !== undefined ||
    media.schema?.example !== undefined
  );
}

/** What is missing from one operation's documentation. */
function problems(operation: OpenApiOperation & { security?: unknown[] }): string[] {
  const found: string[] = [];
  const responses = operation.responses ?? {};
  for (const [status, response] of Object.entries(responses)) {
    if (!status.startsWith('2')) continue;
    const media = response.content?.[JSON_TYPE];
    if (media && !hasExample(media)) found.push(`no example of its ${status} answer`);
  }
  const body = operation.requestBody?.content?.[JSON_TYPE];
  if (body && !hasExample(body)) found.push('no example of its request body');
  for (const parameter of operation.parameters ?? []) {
    if (parameter.in !== 'query') continue;
    if (parameter.example === undefined && parameter.schema?.example === undefined) {
      found.push(`no example of query parameter ${parameter.name}`);
    }
  }
  // A route that takes nothing from the caller (no parameter, body or credential) has no
  // client error to document: GET /health, /ready, /rounds, /models...
  const takesInput =
    (operation.parameters?.length ?? 0) > 0 ||
    operation.requestBody !== undefined ||
    (operation.security?.length ?? 0) > 0;
  const clientErrors = Object.keys(responses).filter((status) => status.startsWith('4'));
  if (takesInput && clientErrors.length === 0) found.push('no 4xx answer');
  for (const status of clientErrors) {
    // Under the route's own media type where it produces one (text/event-stream, weights).
    const media = Object.values(responses[status].content ?? {});
    if (!media.some((m) => m.schema?.properties !== undefined)) {
      found.push(`${status} answer without the error body`);
    }
  }
  return found;
}

describe('OpenAPI documents', () => {
  const documents = useServiceDocuments();

  it.each(['aggregator', 'hospital-node', 'inference-api'] as const)(
    '%s: every operation has examples and its client errors',
    (name) => {
      const missing: string[] = [];
      let operations = 0;
      for (const [path, methods] of Object.entries(documents[name].paths)) {
        for (const [method, operation] of Object.entries(methods)) {
          operations++;
          for (const problem of problems(operation)) {
            missing.push(`${method.toUpperCase()} ${path}: ${problem}`);
          }
        }
      }
      expect(operations).toBeGreaterThan(4);
      expect(missing).toEqual([]);
    },
  );

  it('passes the examples through to the document', () => {
    const rounds = documents.aggregator.paths['/rounds'].post;
    expect(rounds.requestBody?.content?.[JSON_TYPE]?.example).toEqual(
      aggregatorRuns.StartRunBodySchema.examples?.[0],
    );
    expect(rounds.responses?.['202'].content?.[JSON_TYPE]?.example).toEqual(
      aggregatorRuns.RunCreatedSchema.examples?.[0],
    );
    const diagnose = documents['inference-api'].paths['/diagnose'].post;
    expect(diagnose.responses?.['200'].content?.[JSON_TYPE]?.example).toMatchObject({
      label: 'PNEUMONIA',
      disclaimer: inferenceDiagnose.DISCLAIMER,
    });
  });
});
