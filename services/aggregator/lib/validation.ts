import type { FastifySchemaValidationError } from 'fastify';

/**
 * The message of a 400 for a request that fails its schema: every problem, each naming the
 * field (ajv's own message for an unknown field does not name it).
 */
export function formatValidationErrors(
  errors: FastifySchemaValidationError[],
  dataVar: string,
): Error {
  const messages = errors.map((e) => {
    const where = `${dataVar}${e.instancePath}`;
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'additionalProperties') {
      return `${where} has an unknown field "${String(params.additionalProperty)}"`;
    }
    if (e.keyword === 'required') {
      return `${where} needs the field "${String(params.missingProperty)}"`;
    }
    return `${where} ${e.message ?? 'is invalid'}`;
  });
  return new Error([...new Set(messages)].join('; '));
}
