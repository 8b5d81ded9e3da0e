// Real service processes for the fault-injection tests: each service is started the way
// `npm start` does (node --import tsx services/<name>/main.ts, configured by environment
// variables), so kill -9 is a real crash, not a closed fastify instance.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export { freePort } from '../helpers/ports.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Where a service runs and how it is reached, when not on 127.0.0.1 of this host. */
export interface ServicePlacement {
  /** A network namespace to run in (`ip netns exec`: needs root; test/helpers/netns.ts). */
  netns?: string;
  /** The address it binds (HOST) and is reached at (default 127.0.0.1). */
  host?: string;
  /** What its /health is asked with (default the global fetch): one trusting a private CA. */
  fetch?: typeof fetch;
}

export class ServiceProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);
  /** Everything the process wrote, for the failure message of a test. */
  output = '';

  constructor(
    readonly name: string,
    private readonly entry: string,
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly scheme: 'http' | 'https' = 'http',
    private readonly placement: ServicePlacement = {},
  ) {}

  get host(): string {
    return this.placement.host ?? '127.0.0.1';
  }

  get url(): string {
    return `${this.scheme}://${this.host}:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the process and waits until GET /health answers 200. */
  async start(timeoutMs = 120_000): Promise<void> {
    const node = [process.execPath, '--import', 'tsx', path.join(ROOT, this.entry)];
    const { netns } = this.placement;
    const [command, ...args] = netns ? ['ip', 'netns', 'exec', netns, ...node] : node;
    const child = spawn(command, args, {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        TFJS_BACKEND: process.env.TFJS_BACKEND ?? '',
        FEDXRAY_QUIET: '1',
        LOG_LEVEL: 'info',
        HOST: this.host,
        PORT: String(this.port),
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const append = (chunk: Buffer): void => {
      this.output += chunk.toString('utf8');
      if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    let exitCode: number | null | undefined;
    void this.exited.then((code) => (exitCode = code));
    await waitFor(
      `${this.name} to answer /health`,
      async () => {
        if (exitCode !== undefined) {
          throw new Error(`${this.name} exited with ${exitCode}:\n${this.output.slice(-3000)}`);
        }
        const res = await (this.placement.fetch ?? fetch)(`${this.url}/health`, {
          signal: AbortSignal.timeout(2000),
        });
        return res.ok ? true : undefined;
      },
      timeoutMs,
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n${this.output.slice(-3000)}`);
    });
  }

  /** kill -9: no shutdown hook runs. */
  async crash(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  /** A graceful stop (SIGTERM), for cleanup. */
  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** Still running? */
  get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }
}
