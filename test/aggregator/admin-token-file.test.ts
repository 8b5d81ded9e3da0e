// ADMIN_TOKEN_FILE: the aggregator's admin token read from a file and re-read when it changes
// (rotation without a restart), ADMIN_TOKEN_GRACE_SECONDS, and the start-up refusals.
// Engine-independent: PGlite only.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../services/aggregator/app.ts';
import { loadAggregatorConfig } from '../../services/aggregator/config.ts';
import { ConfigError } from '../../shared/service/config.ts';
import { REDACTED_PATHS } from '../../shared/service/create-app.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { FAST, freshState } from './helpers.ts';

const TOKEN_A = 'admin-token-a-0123456789abcdef';
const TOKEN_B = 'admin-token-b-fedcba9876543210';
const TOKEN_C = 'admin-token-c-00112233445566778899';

let dir: string;
let cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  await useTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'fedxray-admin-token-'));
});

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A clock the test moves by hand (milliseconds). */
function fakeClock(): { now: () => number; advance(ms: number): void } {
  let t = Date.now();
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** Writes the file and moves its mtime forward, so the change is seen whatever the fs clock. */
let bump = 0;
async function rewrite(file: string, text: string): Promise<void> {
  await writeFile(file, text);
  bump += 5_000;
  await utimes(file, new Date(), new Date(Date.now() + bump));
}

async function start(
  file: string,
  clock: { now: () => number },
  options: { graceSeconds?: number; lines?: string[] } = {},
): Promise<FastifyInstance> {
  const state = await freshState('pglite');
  cleanups.push(state.cleanup);
  const lines = options.lines;
  const app = await buildApp(
    {
      port: 0,
      host: '127.0.0.1',
      stateDir: state.stateDir,
      adminTokenFile: file,
      adminTokenGraceSeconds: options.graceSeconds,
    },
    {
      ...FAST,
      database: state.test.db,
      now: clock.now,
      ...(lines
        ? {
            logger: {
              level: 'trace',
              redact: REDACTED_PATHS,
              stream: { write: (line: string) => lines.push(line) },
            },
          }
        : {}),
    },
  );
  cleanups.push(() => app.close());
  return app;
}

/** GET /hospitals (admin only) with a bearer token: its status. */
async function asAdmin(app: FastifyInstance, token: string): Promise<number> {
  const res = await app.inject({
    url: '/hospitals',
    headers: { authorization: `Bearer ${token}` },
  });
  return res.statusCode;
}

describe('ADMIN_TOKEN_FILE (the admin token rotated without a restart)', () => {
  it('re-reads the file within a second of a change: the old token 401, the new one 200; a bad, empty or missing file keeps the token in force', async () => {
    const clock = fakeClock();
    const file = join(dir, 'admin-rotate.txt');
    await rewrite(file, `# the aggregator's admin token\n\n  ${TOKEN_A}  \n${TOKEN_C}\n`);
    const lines: string[] = [];
    const app = await start(file, clock, { lines });
    // The first token line counts; the lines after it do not.
    expect(await asAdmin(app, TOKEN_A)).toBe(200);
    expect(await asAdmin(app, TOKEN_C)).toBe(401);

    // Rotate: within a second (the file is looked at once a second) B is in force, A refused.
    await rewrite(file, `${TOKEN_B}\n`);
    clock.advance(1000);
    expect(await asAdmin(app, TOKEN_A)).toBe(401);
    expect(await asAdmin(app, TOKEN_B)).toBe(200);

    // A token that is too short, a file without a token, then no file: B stays in force.
    await rewrite(file, 'short\n');
    clock.advance(1000);
    expect(await asAdmin(app, TOKEN_B)).toBe(200);
    expect(await asAdmin(app, 'short')).toBe(401);
    await rewrite(file, '# rotating\n\n');
    clock.advance(1000);
    expect(await asAdmin(app, TOKEN_B)).toBe(200);
    await rm(file);
    clock.advance(1000);
    expect(await asAdmin(app, TOKEN_B)).toBe(200);

    // A good file again: taken.
    await rewrite(file, `${TOKEN_C}\n`);
    clock.advance(1000);
    expect(await asAdmin(app, TOKEN_C)).toBe(200);
    expect(await asAdmin(app, TOKEN_B)).toBe(401);

    const logs = lines.join('');
    expect(logs).toMatch(/admin token from ADMIN_TOKEN_FILE/);
    expect(logs).toMatch(
      /ADMIN_TOKEN_FILE re-read: a new admin token is in force; the previous one is refused/,
    );
    expect(logs).toMatch(
      /ADMIN_TOKEN_FILE: the token on line 1 is 5 characters; at least 16 are required; the token read before stays in force/,
    );
    expect(logs).toMatch(
      /ADMIN_TOKEN_FILE: \S+ holds no token; the token read before stays in force/,
    );
    expect(logs).toMatch(
      /ADMIN_TOKEN_FILE: cannot read \S+ \(ENOENT\); the token read before stays in force/,
    );
    expect(logs).not.toMatch(/local mode/);
    for (const secret of [TOKEN_A, TOKEN_B, TOKEN_C, 'short']) expect(logs).not.toContain(secret);
  });

  it('ADMIN_TOKEN_GRACE_SECONDS: the replaced token is accepted for the grace after the change (logged), then refused', async () => {
    const clock = fakeClock();
    const file = join(dir, 'admin-grace.txt');
    await rewrite(file, `${TOKEN_A}\n`);
    const lines: string[] = [];
    const app = await start(file, clock, { graceSeconds: 30, lines });
    await rewrite(file, `${TOKEN_B}\n`);
    clock.advance(1000);
    expect(await asAdmin(app, TOKEN_B)).toBe(200);
    expect(await asAdmin(app, TOKEN_A)).toBe(200);
    clock.advance(29_000);
    expect(await asAdmin(app, TOKEN_A)).toBe(200);
    clock.advance(1000);
    expect(await asAdmin(app, TOKEN_A)).toBe(401);
    expect(await asAdmin(app, TOKEN_B)).toBe(200);
    const logs = lines.join('');
    expect(logs).toMatch(/the previous one is accepted for 30 s more/);
    expect(logs.match(/authenticated with the previous admin token/g)).toHaveLength(2);
    for (const secret of [TOKEN_A, TOKEN_B]) expect(logs).not.toContain(secret);
  });

  it('refuses to start on a missing, empty or bad file (naming ADMIN_TOKEN_FILE), and with ADMIN_TOKEN too', async () => {
    const clock = fakeClock();
    const missing = join(dir, 'no-such-admin-token.txt');
    const error = await start(missing, clock).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(
      /ADMIN_TOKEN_FILE: cannot read .*no-such-admin-token\.txt \(ENOENT\)/,
    );
    const empty = join(dir, 'admin-empty.txt');
    await writeFile(empty, '# not yet\n\n');
    await expect(start(empty, clock)).rejects.toThrow(/ADMIN_TOKEN_FILE: .* holds no token/);
    const short = join(dir, 'admin-short.txt');
    await writeFile(short, 'short-token\n');
    await expect(start(short, clock)).rejects.toThrow(
      /ADMIN_TOKEN_FILE: the token on line 1 is 11 characters; at least 16 are required/,
    );

    expect(() => loadAggregatorConfig({ ADMIN_TOKEN: TOKEN_A, ADMIN_TOKEN_FILE: empty })).toThrow(
      /set ADMIN_TOKEN or ADMIN_TOKEN_FILE, not both/,
    );
    expect(() => loadAggregatorConfig({ ADMIN_TOKEN_GRACE_SECONDS: '30' })).toThrow(
      /ADMIN_TOKEN_GRACE_SECONDS needs ADMIN_TOKEN_FILE/,
    );
    expect(() =>
      loadAggregatorConfig({ ADMIN_TOKEN_FILE: empty, ADMIN_TOKEN_GRACE_SECONDS: '3601' }),
    ).toThrow(/ADMIN_TOKEN_GRACE_SECONDS: .*3600/);
    expect(
      loadAggregatorConfig({ ADMIN_TOKEN_FILE: empty, ADMIN_TOKEN_GRACE_SECONDS: '60' }),
    ).toMatchObject({ adminTokenFile: empty, adminTokenGraceSeconds: 60 });

    // From main.ts: the message, exit code 2, before anything starts.
    const { code, output } = await runMain({ ...process.env, ADMIN_TOKEN_FILE: missing });
    expect(code).toBe(2);
    expect(output).toContain(`ADMIN_TOKEN_FILE: cannot read ${missing} (ENOENT)`);
    expect(output).not.toMatch(/\n\s+at /);
  });
});

/** `node --import tsx services/aggregator/main.ts`: its exit code and output. */
function runMain(env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/aggregator/main.ts'], {
      env: { ...env, ADMIN_TOKEN: '', DATABASE_URL: '', STATE_DIR: join(dir, 'state'), PORT: '0' },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}
