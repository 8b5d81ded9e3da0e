// shared/service/secret-file.ts: a secret read from a file, re-read when the file changes
// (API_KEYS_FILE, ADMIN_TOKEN_FILE, AGGREGATOR_TOKEN_FILE use it).
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../shared/service/config.ts';
import { parseTokenFile, secretLines, tokenFile } from '../../shared/service/secret-file.ts';

const TOKEN_A = 'token-a-0123456789abcdef';
const TOKEN_B = 'token-b-fedcba9876543210';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fedxray-secret-file-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let bump = 0;
async function rewrite(file: string, text: string): Promise<void> {
  await writeFile(file, text);
  bump += 5_000;
  await utimes(file, new Date(), new Date(Date.now() + bump));
}

describe('secret files', () => {
  it('looks at the file at most once per interval and reports a change once', async () => {
    let t = 0;
    const file = join(dir, 'token.txt');
    await rewrite(file, `${TOKEN_A}\n`);
    const changes: string[] = [];
    const problems: string[] = [];
    const token = tokenFile({
      variable: 'SOME_TOKEN_FILE',
      path: file,
      onProblem: (message) => problems.push(message),
      onChange: (next, previous) =>
        changes.push(`${previous === TOKEN_A ? 'A' : '?'}->${next === TOKEN_B ? 'B' : '?'}`),
      now: () => t,
    });
    expect(token.current()).toBe(TOKEN_A);
    await rewrite(file, `${TOKEN_B}\n`);
    t += 999;
    expect(token.current()).toBe(TOKEN_A);
    t += 1;
    expect(token.current()).toBe(TOKEN_B);
    // Touched, same token: no change reported. A bad file: reported once, not per request.
    await rewrite(file, `${TOKEN_B}\n`);
    t += 1000;
    expect(token.current()).toBe(TOKEN_B);
    await rewrite(file, '');
    for (let i = 0; i < 3; i++) {
      t += 1000;
      expect(token.current()).toBe(TOKEN_B);
    }
    expect(changes).toEqual(['A->B']);
    expect(problems).toEqual([
      `SOME_TOKEN_FILE: ${file} holds no token; the token read before stays in force`,
    ]);
  });

  it('takes the first line that is neither blank nor a comment, and refuses a short one', () => {
    expect(secretLines(`# c\n\n  x  \r\n#y\nz`)).toEqual([
      { line: 3, value: 'x' },
      { line: 5, value: 'z' },
    ]);
    const parse = parseTokenFile('X_FILE');
    expect(parse(`\n# admin\n${TOKEN_A}\nignored-second-line-000\n`, '/f')).toEqual({
      value: TOKEN_A,
    });
    expect(parse('# only a comment\n', '/f')).toEqual({ problem: 'X_FILE: /f holds no token' });
    expect(parse('\n0123456789abcde\n', '/f')).toEqual({
      problem: 'X_FILE: the token on line 2 is 15 characters; at least 16 are required',
    });
    const missing = join(dir, 'missing.txt');
    expect(() =>
      tokenFile({ variable: 'X_FILE', path: missing, onProblem: () => undefined }),
    ).toThrow(ConfigError);
    expect(() =>
      tokenFile({ variable: 'X_FILE', path: missing, onProblem: () => undefined }),
    ).toThrow(`X_FILE: cannot read ${missing} (ENOENT)`);
  });
});
