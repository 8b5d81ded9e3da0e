import type { Static, TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

export class ConfigError extends Error {}

/**
 * Reads a service's configuration from environment variables: `fields` maps each config key
 * to its variable name; values are converted (numbers, booleans) and checked against the
 * TypeBox schema, and every problem is reported at once with the variable's name.
 * `options.check` adds problems that span fields (two variables that go together), found on the
 * converted values whether or not they passed the schema.
 */
export function loadConfig<T extends TObject>(
  schema: T,
  fields: Record<keyof Static<T> & string, string>,
  env: NodeJS.ProcessEnv = process.env,
  options: { check?: (values: Partial<Static<T>>) => string[] } = {},
): Static<T> {
  const raw: Record<string, unknown> = {};
  for (const [key, variable] of Object.entries(fields) as [string, string][]) {
    const value = env[variable];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const withDefaults = Value.Default(schema, Value.Convert(schema, raw));
  const problems = [...Value.Errors(schema, withDefaults)].map((e) => {
    const key = e.path.replace(/^\//, '').split('/')[0];
    const variable = (fields as Record<string, string>)[key] ?? key;
    const got = (raw as Record<string, unknown>)[key];
    return `${variable}: ${e.message}${got === undefined ? ' (not set)' : ` (got "${String(got)}")`}`;
  });
  problems.push(...(options.check?.(withDefaults as Partial<Static<T>>) ?? []));
  if (problems.length > 0) {
    throw new ConfigError(`Invalid configuration:\n  ${[...new Set(problems)].join('\n  ')}`);
  }
  return withDefaults as Static<T>;
}
