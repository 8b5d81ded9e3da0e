import { KindGuard, type Static, type TObject, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

export class ConfigError extends Error {}

/** Plain decimal integers, optionally signed: no fraction, exponent, radix prefix or `_`. */
const INTEGER_TEXT = /^[+-]?\d+$/;
/** Plain decimal numbers, optionally signed, with at most one decimal point; no exponent. */
const NUMBER_TEXT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;

type NumericKind = 'integer' | 'number';

const NUMERIC_PROBLEM: Record<NumericKind, string> = {
  integer: 'Expected a whole decimal number',
  number: 'Expected a decimal number',
};

function numericKind(schema: TSchema | undefined): NumericKind | undefined {
  if (KindGuard.IsInteger(schema)) return 'integer';
  if (KindGuard.IsNumber(schema)) return 'number';
  return undefined;
}

/**
 * Variables whose values are never echoed in an error, even a value refused as malformed: a
 * too-short token or a mistyped connection URL is usually the real secret, cut or misspelt.
 */
const SECRET_VARIABLE = /(?:TOKEN|KEYS?|SECRET|PASSWORD)$|^DATABASE_URL$/;

/** How a refused value is shown: quoted, or only its length for secrets. */
export function describeValue(variable: string, value: unknown): string {
  const text = String(value);
  return SECRET_VARIABLE.test(variable) ? `${text.length} characters, not shown` : `"${text}"`;
}

/**
 * The number an environment variable's text stands for, or undefined when it is not written as
 * a plain decimal (surrounding blanks aside). TypeBox's own conversion would read `1.5` and
 * `2e1` as the integers 1 and 2, and `0x10` as the number 0.
 */
export function parseDecimal(text: string, kind: NumericKind): number | undefined {
  const trimmed = text.trim();
  if (!(kind === 'integer' ? INTEGER_TEXT : NUMBER_TEXT).test(trimmed)) return undefined;
  const value = Number(trimmed);
  if (kind === 'integer' ? !Number.isSafeInteger(value) : !Number.isFinite(value)) return undefined;
  return Object.is(value, -0) ? 0 : value;
}

/**
 * Reads a service's configuration from environment variables: `fields` maps each config key
 * to its variable name; values are converted (numbers, booleans) and checked against the
 * TypeBox schema, and every problem is reported at once with the variable's name. An empty
 * variable counts as unset. Integer and number variables must be plain decimals (`parseDecimal`).
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
  const input: Record<string, unknown> = {};
  const malformed = new Map<string, string>();
  for (const [key, variable] of Object.entries(fields) as [string, string][]) {
    const value = env[variable];
    if (value === undefined || value === '') continue;
    raw[key] = value;
    const kind = numericKind(schema.properties[key]);
    if (kind === undefined) {
      input[key] = value;
      continue;
    }
    const parsed = parseDecimal(value, kind);
    if (parsed === undefined) malformed.set(key, NUMERIC_PROBLEM[kind]);
    else input[key] = parsed;
  }
  const converted = Value.Convert(schema, input) as Record<string, unknown>;
  // Kept as text, a malformed number fails the schema (reported below with its own message)
  // and still counts as set for `options.check`.
  for (const key of malformed.keys()) converted[key] = raw[key];
  const withDefaults = Value.Default(schema, converted);
  const problems = [...Value.Errors(schema, withDefaults)].map((e) => {
    const key = e.path.replace(/^\//, '').split('/')[0];
    const variable = (fields as Record<string, string>)[key] ?? key;
    const got = raw[key];
    const message = malformed.get(key) ?? e.message;
    return `${variable}: ${message}${got === undefined ? ' (not set)' : ` (got ${describeValue(variable, got)})`}`;
  });
  problems.push(...(options.check?.(withDefaults as Partial<Static<T>>) ?? []));
  if (problems.length > 0) {
    throw new ConfigError(`Invalid configuration:\n  ${[...new Set(problems)].join('\n  ')}`);
  }
  return withDefaults as Static<T>;
}
