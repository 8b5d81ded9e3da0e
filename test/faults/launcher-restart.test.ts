// npm start's launcher (scripts/start-all.ts) with one service killed -9: the launcher starts
// it again after a pause and says so, the other services keep running, and Ctrl-C (SIGINT)
// still stops everything.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

/** The launcher's output, line by line, with a way to await a line. */
class Output {
  readonly lines: string[] = [];
  private waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];

  push(line: string): void {
    this.lines.push(line);
    for (const w of [...this.waiters]) {
      const m = line.match(w.pattern);
      if (m) {
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve(m);
      }
    }
  }

  /** The first line from `from` on that matches. */
  next(pattern: RegExp, from = this.lines.length): Promise<RegExpMatchArray> {
    for (const line of this.lines.slice(from)) {
      const m = line.match(pattern);
      if (m) return Promise.resolve(m);
    }
    return new Promise((resolve) => this.waiters.push({ pattern, resolve }));
  }
}

function withoutTokens(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { ADMIN_TOKEN: _admin, AGGREGATOR_TOKEN: _aggregator, ...rest } = env;
  return rest;
}

async function healthy(url: string): Promise<boolean> {
  return fetch(`${url}/health`).then(
    (r) => r.ok,
    () => false,
  );
}

describe('the npm start launcher', () => {
  let launcher: ChildProcess | undefined;
  let state: string;

  afterAll(async () => {
    if (launcher && launcher.exitCode === null) launcher.kill('SIGKILL');
    if (state) await rm(state, { recursive: true, force: true });
  });

  it('restarts a killed hospital node while the others keep running; SIGINT stops all', async () => {
    state = await mkdtemp(join(tmpdir(), 'fedxray-launcher-'));
    const [aggregatorPort, hospitalPort, inferencePort] = [
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const out = new Output();
    launcher = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/start-all.ts')], {
      cwd: ROOT,
      env: {
        ...withoutTokens(process.env),
        STATE_DIR: state,
        HOSPITALS: '1',
        AGGREGATOR_PORT: String(aggregatorPort),
        HOSPITAL_BASE_PORT: String(hospitalPort),
        INFERENCE_PORT: String(inferencePort),
        DATABASE_URL: '',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffered = '';
    launcher.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) out.push(line);
    });
    launcher.stderr?.on('data', (chunk: Buffer) => out.push(chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => launcher?.once('exit', resolve));
    // A line, or the launcher's end with what it printed: a failed start never hangs the test.
    const until = (pattern: RegExp, from?: number) =>
      Promise.race([
        out.next(pattern, from),
        exited.then((code) => {
          throw new Error(`the launcher exited (${code}) first:\n${out.lines.join('\n')}`);
        }),
      ]);

    await until(/^fedxray is running:/);
    const [, firstPid] = await until(/\[start\] hospital-1 started \(pid (\d+)\)/, 0);
    const hospitalUrl = `http://127.0.0.1:${hospitalPort}`;
    const aggregatorUrl = `http://127.0.0.1:${aggregatorPort}`;
    expect(await healthy(hospitalUrl)).toBe(true);

    // The inference API was given a reader token, not the admin token: it downloads weights
    // (404 for an unknown model once accepted) and nothing else; its own admin token differs.
    const local = JSON.parse(await readFile(join(state, 'local.json'), 'utf8')) as {
      adminToken: string;
      reader: { id: string; token: string };
      inferenceAdminToken: string;
    };
    expect(new Set([local.adminToken, local.reader.token, local.inferenceAdminToken]).size).toBe(3);
    const asReader = { headers: { authorization: `Bearer ${local.reader.token}` } };
    expect((await fetch(`${aggregatorUrl}/models/no-such-model/weights`, asReader)).status).toBe(
      404,
    );
    expect((await fetch(`${aggregatorUrl}/hospitals`, asReader)).status).toBe(403);
    expect(out.lines).toContain(
      `  inference API admin token: ${local.inferenceAdminToken}   (fedxray accept --set)`,
    );

    const mark = out.lines.length;
    process.kill(Number(firstPid), 'SIGKILL');
    await until(
      /\[start\] hospital-1 exited \(SIGKILL\); restarting it in 1 s \(restart 1\); the other services keep running/,
      mark,
    );
    const [, secondPid] = await until(/\[start\] hospital-1 started \(pid (\d+)\)/, mark);
    expect(secondPid).not.toBe(firstPid);
    // The aggregator and the inference API were not touched.
    expect(await healthy(aggregatorUrl)).toBe(true);
    expect(await healthy(`http://127.0.0.1:${inferencePort}`)).toBe(true);
    expect(out.lines.some((l) => /(aggregator|inference-api) exited/.test(l))).toBe(false);
    // The new process answers once it has started: a readiness probe, as a load balancer's.
    for (let i = 0; i < 100 && !(await healthy(hospitalUrl)); i++) {
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await healthy(hospitalUrl)).toBe(true);

    launcher.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(await healthy(hospitalUrl)).toBe(false);
    expect(await healthy(aggregatorUrl)).toBe(false);
  });
});
