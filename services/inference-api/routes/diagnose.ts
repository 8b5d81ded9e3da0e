import { Value } from '@sinclair/typebox/value';
import type { FastifyError, FastifyInstance, FastifyRequest, FastifySchemaCompiler } from 'fastify';
import { ERROR_RESPONSE_SCHEMA, errorResponses } from '../../../shared/service/create-app.ts';
import { API_KEY_SECURITY_SCHEMES, type DiagnoseAccess } from '../lib/access.ts';
import { diagnose } from '../lib/diagnose.ts';
import { HttpError } from '../../../shared/service/errors.ts';
import { noModel } from '../lib/errors.ts';
import { BUSY_RETRY_AFTER_SECONDS, type InFlightLimit } from '../lib/in-flight.ts';
import type { ModelService } from '../lib/model-service.ts';
import type { OperatingPointStore } from '../lib/operating-point.ts';
import {
  DICOM_CONTENT_TYPE,
  fileTooLarge,
  notMultipart,
  readDicomBody,
  readImageUpload,
} from '../lib/upload.ts';
import {
  DICOM_INPUT_DESCRIPTION,
  DiagnoseBodySchema,
  DiagnoseQuerySchema,
  DiagnosisSchema,
  type DiagnoseQuery,
  type Diagnosis,
} from '../schemas/diagnose.ts';

export interface DiagnoseRoutesOptions {
  models: ModelService;
  maxUploadBytes: number;
  /** API keys and the rate limit (checked before the upload is read). */
  access: DiagnoseAccess;
  /** The cap on requests in flight (checked after access, before the upload is read). */
  inFlight: InFlightLimit;
  /** The site's threshold for the model, when it set one. */
  operatingPoints: OperatingPointStore;
}

/**
 * The query is validated (and 'true'/'false' turned into booleans) from its TypeBox schema;
 * the multipart body is read by the handler, so its schema is documentation only.
 */
const queryOnlyValidator: FastifySchemaCompiler<unknown> = ({ httpPart }) => {
  if (httpPart !== 'querystring') return () => true;
  return (data) => {
    const value = Value.Convert(
      DiagnoseQuerySchema,
      Value.Default(DiagnoseQuerySchema, data ?? {}),
    );
    if (Value.Check(DiagnoseQuerySchema, value)) return { value };
    const [first] = Value.Errors(DiagnoseQuerySchema, value);
    const where = first?.path ? `querystring ${first.path.slice(1)}` : 'querystring';
    return {
      error: new HttpError(400, 'invalid-request', `${where}: ${first?.message ?? 'invalid'}`),
    };
  };
};

function isDicomBody(request: FastifyRequest): boolean {
  const type = request.headers['content-type'] ?? '';
  return type.split(';')[0].trim().toLowerCase() === DICOM_CONTENT_TYPE;
}

export async function diagnoseRoutes(
  app: FastifyInstance,
  { models, maxUploadBytes, access, inFlight, operatingPoints }: DiagnoseRoutesOptions,
): Promise<void> {
  // Bodies this route cannot parse (JSON too large, raw image/jpeg...) are "not multipart"
  // here, not fastify's generic codes; the parent handler writes the JSON error. A raw DICOM
  // body over the limit is the upload too large, as in a form.
  app.setErrorHandler((error: FastifyError, request: FastifyRequest) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' && isDicomBody(request)) {
      throw fileTooLarge(maxUploadBytes);
    }
    throw error.code?.startsWith('FST_ERR_CTP_') ? notMultipart() : error;
  });
  // One DICOM instance as the whole body, as a PACS gateway or a DICOMweb client sends it.
  app.addContentTypeParser(
    DICOM_CONTENT_TYPE,
    { parseAs: 'buffer', bodyLimit: maxUploadBytes },
    (_request, body, done) => done(null, body),
  );

  app.post<{ Querystring: DiagnoseQuery }>(
    '/diagnose',
    {
      schema: {
        summary: 'Diagnose one chest X-ray (research use only)',
        description:
          'Multipart upload with the image (JPEG, PNG or DICOM, at most ' +
          `${maxUploadBytes} bytes) in the file field \`image\`. ` +
          'Answers the probability of pneumonia from the production model ' +
          'and the label at the threshold in force (GET /models/current). For a model with ' +
          'temperature scaling in its metadata the probability and threshold are calibrated ' +
          '(`probabilityScale: temperature-scaled`, with `rawProbability` and `rawThreshold`); ' +
          'the label is the same in both scales.' +
          (access.keysRequired
            ? ' Needs an API key (`x-api-key` or `Authorization: Bearer`).'
            : ' No API key is needed (API_KEYS is not set).') +
          (access.limiter
            ? ` At most ${access.limiter.perMinute} requests a minute per ` +
              (access.keysRequired ? 'API key' : 'client IP') +
              ' (429 with `retry-after` beyond).'
            : '') +
          (inFlight.max > 0
            ? ` At most ${inFlight.max} requests in flight at once (MAX_CONCURRENT_DIAGNOSES): ` +
              `beyond, 503 \`busy\` with \`retry-after: ${BUSY_RETRY_AFTER_SECONDS}\`, answered ` +
              'before the upload is read.'
            : '') +
          ' With `explain=true` the answer adds `explanation`, a Grad-CAM heatmap (PNG of the ' +
          "upload's size) of where the model looked: it costs one extra backward pass through " +
          'the head per ensemble member and a PNG encoding, included in `timingMs`; a model ' +
          'without a usable last conv stage answers 409 `explain-unsupported`. ' +
          DICOM_INPUT_DESCRIPTION +
          ` A DICOM file may also be the whole body, with \`content-type: ${DICOM_CONTENT_TYPE}\`` +
          ` (at most ${maxUploadBytes} bytes, else 413 \`file-too-large\`).`,
        tags: ['inference'],
        consumes: ['multipart/form-data'],
        querystring: DiagnoseQuerySchema,
        body: DiagnoseBodySchema,
        ...(access.keysRequired ? { security: [{ apiKey: [] }, { apiKeyBearer: [] }] } : {}),
        response: {
          200: DiagnosisSchema,
          400: ERROR_RESPONSE_SCHEMA,
          ...(access.keysRequired ? { 401: ERROR_RESPONSE_SCHEMA } : {}),
          ...errorResponses(409, 413, 415),
          ...(access.limiter ? { 429: ERROR_RESPONSE_SCHEMA } : {}),
          503: {
            ...ERROR_RESPONSE_SCHEMA,
            description:
              '`no-model`: no model is loaded yet' +
              (inFlight.max > 0
                ? `; \`busy\`: ${inFlight.max} requests are in flight (retry after \`retry-after\` seconds)`
                : ''),
          },
        },
      },
      config: {
        // The key's security schemes join the OpenAPI document with this route.
        swaggerTransform: ({ schema, url, ...document }) => {
          if ('openapiObject' in document) {
            const components = (document.openapiObject.components ??= {});
            components.securitySchemes = {
              ...components.securitySchemes,
              ...API_KEY_SECURITY_SCHEMES,
            };
          }
          return { schema, url };
        },
      },
      // Unauthenticated and rate-limited callers are refused before they can take a slot.
      onRequest: [access.onRequest, inFlight.onRequest],
      // The body schema documents the form for OpenAPI; the multipart stream is not a parsed
      // body, so the handler checks it (field, size, format) instead of the validator.
      validatorCompiler: queryOnlyValidator,
    },
    (request): Promise<Diagnosis> =>
      inFlight.run(request, async () => {
        const raw = Buffer.isBuffer(request.body) ? request.body : undefined;
        if (!raw && !request.isMultipart()) throw notMultipart();
        if (!models.current) throw noModel();
        const bytes = raw ? readDicomBody(raw) : await readImageUpload(request, maxUploadBytes);
        const lease = models.acquire();
        if (!lease) throw noModel();
        try {
          const threshold = operatingPoints.threshold(lease.value.info);
          return await diagnose(lease.value, bytes, threshold, {
            explain: request.query.explain === true,
          });
        } finally {
          lease.release();
        }
      }),
  );
}
