import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../../../shared/service/config.ts';
import { checkApiKeys } from './api-key-rules.ts';

/** How often, at most, the file's modification time is looked at (on a /diagnose request). */
export const API_KEYS_FILE_CHECK_MS = 1000;

export interface ApiKeyFileOptions {
  path: string;
  /** Where reload problems go (the service log); never given a key. */
  onProblem: (message: string) => void;
  onReload?: (keys: number) => void;
  now?: () => number;
  checkIntervalMs?: number;
}

/**
 * API_KEYS_FILE: the accepted keys, one per line (blank lines and lines starting with # are
 * ignored), re-read when the file changes, so keys are added and revoked without a restart.
 * A file that cannot be read or holds a bad key, or no key, at start stops the service; later
 * the previous keys stay in force and the problem is logged, so a half-written or truncated
 * file neither opens the service nor locks every caller out.
 */
export class ApiKeyFile {
  private keys: string[];
  private stamp: string;
  private checkedAt: number;
  private readonly now: () => number;
  private readonly interval: number;

  constructor(private readonly options: ApiKeyFileOptions) {
    this.now = options.now ?? Date.now;
    this.interval = options.checkIntervalMs ?? API_KEYS_FILE_CHECK_MS;
    const read = readKeyFile(options.path);
    if (typeof read === 'string') throw new ConfigError(`Invalid configuration:\n  ${read}`);
    this.keys = read.keys;
    this.stamp = read.stamp;
    this.checkedAt = this.now();
  }

  /** The keys in force, re-read first when the file changed (looked at once a second). */
  current(): readonly string[] {
    const now = this.now();
    if (now - this.checkedAt < this.interval) return this.keys;
    this.checkedAt = now;
    const stamp = fileStamp(this.options.path);
    if (stamp === this.stamp) return this.keys;
    const read = readKeyFile(this.options.path);
    // Remember the stamp either way: a bad file is reported once, not on every request.
    this.stamp = typeof read === 'string' ? (stamp ?? 'missing') : read.stamp;
    if (typeof read === 'string') {
      this.options.onProblem(`${read}; the previous ${this.keys.length} key(s) stay in force`);
      return this.keys;
    }
    this.keys = read.keys;
    this.options.onReload?.(this.keys.length);
    return this.keys;
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

/** The file's keys and stamp, or the problem (naming API_KEYS_FILE and line numbers only). */
function readKeyFile(path: string): { keys: string[]; stamp: string } | string {
  const stamp = fileStamp(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return `API_KEYS_FILE: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  const entries = text
    .split(/\r?\n/)
    .map((line, i) => ({ line: i + 1, key: line.trim() }))
    .filter((e) => e.key !== '' && !e.key.startsWith('#'));
  if (entries.length === 0) return `API_KEYS_FILE: ${path} holds no key`;
  const problems = checkApiKeys(
    entries.map((e) => e.key),
    (i) => `API_KEYS_FILE: the key on line ${entries[i].line}`,
  );
  if (problems.length > 0) return problems.join('; ');
  return { keys: [...new Set(entries.map((e) => e.key))], stamp: stamp ?? 'unknown' };
}
