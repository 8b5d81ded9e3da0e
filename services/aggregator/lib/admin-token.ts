import { tokenFile, type SecretFile } from '../../../shared/service/secret-file.ts';

/** The admin tokens accepted now. */
export interface AdminTokens {
  /** The admin token in force. */
  current: string;
  /** The token ADMIN_TOKEN_FILE held before its last change, while its grace lasts. */
  previous?: string;
}

export interface AdminTokenSource {
  tokens(): AdminTokens;
}

/** ADMIN_TOKEN, or the generated token of local mode: fixed for the life of the process. */
export function fixedAdminToken(token: string): AdminTokenSource {
  const tokens: AdminTokens = { current: token };
  return { tokens: () => tokens };
}

export interface AdminTokenFileOptions {
  path: string;
  /** Seconds the replaced token is still accepted once a change is seen (0: none). */
  graceSeconds: number;
  /** Where reload problems and changes go (the service log); never given a token. */
  onProblem: (message: string) => void;
  onChange?: (message: string, details: { graceSeconds: number }) => void;
  now?: () => number;
  checkIntervalMs?: number;
}

/**
 * ADMIN_TOKEN_FILE: the admin token from a file (shared/service/secret-file.ts tokenFile),
 * re-read when it changes, checked at most once a second when a request with a bearer token
 * comes. A missing, unreadable or bad file at start is a ConfigError; later the token in
 * force is kept and the problem logged. After a change the replaced token is refused at once,
 * or accepted for `graceSeconds` more (ADMIN_TOKEN_GRACE_SECONDS).
 */
export class AdminTokenFile implements AdminTokenSource {
  private readonly file: SecretFile<string>;
  private readonly now: () => number;
  private previous: { token: string; until: number } | undefined;

  constructor(options: AdminTokenFileOptions) {
    this.now = options.now ?? Date.now;
    const graceSeconds = options.graceSeconds;
    this.file = tokenFile({
      variable: 'ADMIN_TOKEN_FILE',
      path: options.path,
      onProblem: options.onProblem,
      onChange: (_token, previous) => {
        this.previous =
          graceSeconds > 0
            ? { token: previous, until: this.now() + graceSeconds * 1000 }
            : undefined;
        options.onChange?.(
          graceSeconds > 0
            ? `ADMIN_TOKEN_FILE re-read: a new admin token is in force; the previous one is accepted for ${graceSeconds} s more`
            : 'ADMIN_TOKEN_FILE re-read: a new admin token is in force; the previous one is refused',
          { graceSeconds },
        );
      },
      now: options.now,
      checkIntervalMs: options.checkIntervalMs,
    });
  }

  tokens(): AdminTokens {
    const current = this.file.current();
    if (this.previous !== undefined && this.now() < this.previous.until) {
      return { current, previous: this.previous.token };
    }
    this.previous = undefined;
    return { current };
  }
}
