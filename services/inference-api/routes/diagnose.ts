import type { FastifyError, FastifyInstance } from 'fastify';
import { ERROR_RESPONSE_SCHEMA } from '../../../shared/service/create-app.ts';
import { diagnose } from '../lib/diagnose.ts';
import { noModel } from '../lib/errors.ts';
import type { ModelService } from '../lib/model-service.ts';
import { notMultipart, readImageUpload } from '../lib/upload.ts';
import { DiagnoseBodySchema, DiagnosisSchema, type Diagnosis } from '../schemas/diagnose.ts';

export interface DiagnoseRoutesOptions {
  models: ModelService;
  maxUploadBytes: number;
}

export async function diagnoseRoutes(
  app: FastifyInstance,
  { models, maxUploadBytes }: DiagnoseRoutesOptions,
): Promise<void> {
  // Bodies this route cannot parse (JSON too large, raw image/jpeg...) are "not multipart"
  // here, not fastify's generic codes; the parent handler writes the JSON error.
  app.setErrorHandler((error: FastifyError) => {
    throw error.code?.startsWith('FST_ERR_CTP_') ? notMultipart() : error;
  });

  app.post(
    '/diagnose',
    {
      schema: {
        summary: 'Diagnose one chest X-ray (research use only)',
        description:
          `Multipart upload with the image (JPEG or PNG, at most ${maxUploadBytes} bytes) in ` +
          'the file field `image`. Answers the probability of pneumonia from the production model ' +
          "and the label at the model's decision threshold.",
        tags: ['inference'],
        consumes: ['multipart/form-data'],
        body: DiagnoseBodySchema,
        response: {
          200: DiagnosisSchema,
          400: ERROR_RESPONSE_SCHEMA,
          413: ERROR_RESPONSE_SCHEMA,
          415: ERROR_RESPONSE_SCHEMA,
          503: ERROR_RESPONSE_SCHEMA,
        },
      },
      // The body schema documents the form for OpenAPI; the multipart stream is not a parsed
      // body, so the handler checks it (field, size, format) instead of the validator.
      validatorCompiler: () => () => true,
    },
    async (request): Promise<Diagnosis> => {
      if (!request.isMultipart()) throw notMultipart();
      if (!models.current) throw noModel();
      const bytes = await readImageUpload(request, maxUploadBytes);
      const lease = models.acquire();
      if (!lease) throw noModel();
      try {
        return await diagnose(lease.value, bytes);
      } finally {
        lease.release();
      }
    },
  );
}
