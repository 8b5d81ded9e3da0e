import {
  SECRET_FILE_CHECK_MS,
  SecretFile,
  secretLines,
  type SecretFileParse,
} from '../../../shared/service/secret-file.ts';
import { checkApiKeys } from './api-key-rules.ts';

/** How often, at most, the file's modification time is looked at (on a /diagnose request). */
export const API_KEYS_FILE_CHECK_MS = SECRET_FILE_CHECK_MS;

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
 * file neither opens the service nor locks every caller out (shared/service/secret-file.ts).
 */
export class ApiKeyFile {
  private readonly file: SecretFile<string[]>;

  constructor(options: ApiKeyFileOptions) {
    this.file = new SecretFile({
      variable: 'API_KEYS_FILE',
      path: options.path,
      parse: parseApiKeyFile,
      onProblem: (problem, keys) =>
        options.onProblem(`${problem}; the previous ${keys.length} key(s) stay in force`),
      onReload: (keys) => options.onReload?.(keys.length),
      now: options.now,
      checkIntervalMs: options.checkIntervalMs ?? API_KEYS_FILE_CHECK_MS,
    });
  }

  /** The keys in force, re-read first when the file changed (looked at once a second). */
  current(): readonly string[] {
    return this.file.current();
  }
}

/** The file's keys, or the problem (naming API_KEYS_FILE and line numbers only). */
function parseApiKeyFile(text: string, path: string): SecretFileParse<string[]> {
  const entries = secretLines(text);
  if (entries.length === 0) return { problem: `API_KEYS_FILE: ${path} holds no key` };
  const problems = checkApiKeys(
    entries.map((e) => e.value),
    (i) => `API_KEYS_FILE: the key on line ${entries[i].line}`,
  );
  if (problems.length > 0) return { problem: problems.join('; ') };
  return { value: [...new Set(entries.map((e) => e.value))] };
}
