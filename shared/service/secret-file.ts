import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from './config.ts';

/** How often, at most, a secrets file's modification is looked at (on a request that uses it). */
export const SECRET_FILE_CHECK_MS = 1000;

/** What a secrets file holds, or what is wrong with it (naming the variable, never a secret). */
export type SecretFileParse<T> = { value: T } | { problem: string };

export interface SecretFileOptions<T> {
  /** The environment variable that named the file (API_KEYS_FILE, ADMIN_TOKEN_FILE, ...). */
  variable: string;
  path: string;
  /** The file's value from its text; a problem must not quote the secret. */
  parse: (text: string, path: string) => SecretFileParse<T>;
  /** A later read failed (the message names the problem; the value in force is kept). */
  onProblem: (problem: string, kept: T) => void;
  /** The file was read again after a change (whether or not the value differs). */
  onReload?: (value: T, previous: T) => void;
  /** Milliseconds clock (tests); default Date.now. */
  now?: () => number;
  checkIntervalMs?: number;
}

/**
 * A secret read from a file and re-read when the file changes, so it is rotated without a
 * restart (API_KEYS_FILE, ADMIN_TOKEN_FILE, AGGREGATOR_TOKEN_FILE). The file's stamp
 * (mtime, size, inode) is looked at, at most once per `checkIntervalMs`, when the value is
 * asked for. A file that cannot be read or holds no valid secret at start is a ConfigError;
 * later, the value in force is kept and the problem reported once per change of the file, so
 * a half-written or truncated file neither opens the service nor locks every caller out.
 */
export class SecretFile<T> {
  private value: T;
  private stamp: string;
  private checkedAt: number;
  private readonly now: () => number;
  private readonly interval: number;

  constructor(private readonly options: SecretFileOptions<T>) {
    this.now = options.now ?? Date.now;
    this.interval = options.checkIntervalMs ?? SECRET_FILE_CHECK_MS;
    const read = this.read();
    if ('problem' in read) throw new ConfigError(`Invalid configuration:\n  ${read.problem}`);
    this.value = read.value;
    this.stamp = read.stamp;
    this.checkedAt = this.now();
  }

  /** The value in force, re-read first when the file changed (looked at once a second). */
  current(): T {
    const now = this.now();
    if (now - this.checkedAt < this.interval) return this.value;
    this.checkedAt = now;
    const stamp = fileStamp(this.options.path);
    if (stamp === this.stamp) return this.value;
    const read = this.read();
    if ('problem' in read) {
      // Remember the stamp: a bad file is reported once, not on every request.
      this.stamp = stamp ?? 'missing';
      this.options.onProblem(read.problem, this.value);
      return this.value;
    }
    const previous = this.value;
    this.value = read.value;
    this.stamp = read.stamp;
    this.options.onReload?.(this.value, previous);
    return this.value;
  }

  /** The file's value and its stamp, taken before reading so a change while reading is seen later. */
  private read(): { value: T; stamp: string } | { problem: string } {
    const { variable, path } = this.options;
    const stamp = fileStamp(path);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      return { problem: `${variable}: cannot read ${path} (${code})` };
    }
    const parsed = this.options.parse(text, path);
    if ('problem' in parsed) return parsed;
    return { value: parsed.value, stamp: stamp ?? 'unknown' };
  }
}

function fileStamp(path: string): string | undefined {
  try {
    const s = statSync(path);
    return `${s.mtimeMs}:${s.size}:${s.ino}`;
  } catch {
    return undefined;
  }
}

/** The lines of a secrets file that hold something (blank lines and `#` comments left out). */
export function secretLines(text: string): { line: number; value: string }[] {
  return text
    .split(/\r?\n/)
    .map((line, i) => ({ line: i + 1, value: line.trim() }))
    .filter((e) => e.value !== '' && !e.value.startsWith('#'));
}

/** Shortest accepted bearer token read from a file: the ADMIN_TOKEN rule. */
export const MIN_TOKEN_LENGTH = 16;

/**
 * A file holding one bearer token: its first line that is neither blank nor a `#` comment,
 * at least MIN_TOKEN_LENGTH characters. Problems name the variable and the line, never the
 * token.
 */
export function parseTokenFile(variable: string): SecretFileOptions<string>['parse'] {
  return (text, path) => {
    const first = secretLines(text)[0];
    if (first === undefined) return { problem: `${variable}: ${path} holds no token` };
    if (first.value.length < MIN_TOKEN_LENGTH) {
      return {
        problem:
          `${variable}: the token on line ${first.line} is ${first.value.length} characters; ` +
          `at least ${MIN_TOKEN_LENGTH} are required`,
      };
    }
    return { value: first.value };
  };
}

export interface TokenFileOptions {
  variable: string;
  path: string;
  /** Where reload problems go (the service log); never given the token. */
  onProblem: (message: string) => void;
  /** The file was read again and holds another token than before. */
  onChange?: (token: string, previous: string) => void;
  now?: () => number;
  checkIntervalMs?: number;
}

/** One bearer token from a file (parseTokenFile), re-read when the file changes. */
export function tokenFile(options: TokenFileOptions): SecretFile<string> {
  return new SecretFile({
    variable: options.variable,
    path: options.path,
    parse: parseTokenFile(options.variable),
    onProblem: (problem) => options.onProblem(`${problem}; the token read before stays in force`),
    onReload: (token, previous) => {
      if (token !== previous) options.onChange?.(token, previous);
    },
    now: options.now,
    checkIntervalMs: options.checkIntervalMs,
  });
}
