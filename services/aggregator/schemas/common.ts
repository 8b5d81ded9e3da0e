import { Type, type Static } from '@sinclair/typebox';
import { ERROR_RESPONSE_SCHEMA, errorResponses } from '../../../shared/service/create-app.ts';

export const ErrorResponse = ERROR_RESPONSE_SCHEMA;
export { errorResponses };

/** OpenAPI: `Authorization: Bearer <ADMIN_TOKEN>` (admin routes), a hospital's or a reader's token. */
export const BEARER_SECURITY = [{ bearerAuth: [] }];

export const IdParamsSchema = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
export type IdParams = Static<typeof IdParamsSchema>;

export const NullableString = Type.Union([Type.String(), Type.Null()]);
export const NullableInteger = Type.Union([Type.Integer(), Type.Null()]);
export const Timestamp = Type.String({ description: 'ISO 8601' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

/** Free-form JSON (metrics), serialised as is. */
export const AnyJson = Type.Unknown();
