import { Type } from '@sinclair/typebox';
import { ERROR_RESPONSE_SCHEMA, errorResponses } from '../../../shared/service/create-app.ts';

export const ErrorResponse = ERROR_RESPONSE_SCHEMA;
export { errorResponses };

/** OpenAPI: the route needs `Authorization: Bearer <HOSPITAL_TOKEN>`. */
export const BEARER_SECURITY = [{ bearerAuth: [] }];

export {
  ArchitectureSchema,
  ModelInputFields,
  ModelInputSchema,
  ModelRefSchema,
  PreprocessingSchema,
  type ModelInput,
} from '../../../shared/protocol/train-request.ts';

export const ClassCountsSchema = Type.Object({
  NORMAL: Type.Integer(),
  PNEUMONIA: Type.Integer(),
  total: Type.Integer(),
});
