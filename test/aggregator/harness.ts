import { afterEach, beforeAll } from 'vitest';
import type { AggregatorDeps } from '../../services/aggregator/app.ts';
import type { AggregatorConfig } from '../../services/aggregator/config.ts';
import type { Database, DatabaseKind } from '../../shared/db/index.ts';
import { REDACTED_PATHS } from '../../shared/service/create-app.ts';
import { useTestBackend } from '../helpers/tiny.ts';
import { startFakeHospital, type FakeBehaviour, type FakeHospital } from './fake-hospital.ts';
import {
  ADMIN_TOKEN,
  freshState,
  json,
  registerHospital,
  startAggregator,
  TINY_RUN,
  waitForRun,
  type Aggregator,
  type RunDetailBody,
} from './helpers.ts';

export type RegisteredFake = FakeHospital & { id: string };

/** What `start` passes to startAggregator, for the first aggregator and every restart. */
export interface HarnessOptions {
  config?: Partial<AggregatorConfig>;
  deps?: AggregatorDeps;
}

/**
 * One test's aggregator on a fresh database and state directory, restartable on the same port,
 * with fake hospitals registered to it; `close` undoes everything in reverse order.
 */
export class AggregatorHarness {
  private cleanups: (() => Promise<void>)[] = [];
  private current: Aggregator | undefined;
  private state: { db: Database; stateDir: string } | undefined;
  private options: HarnessOptions = {};

  get agg(): Aggregator {
    if (!this.current) throw new Error('AggregatorHarness: start() first');
    return this.current;
  }

  get db(): Database {
    if (!this.state) throw new Error('AggregatorHarness: start() first');
    return this.state.db;
  }

  async start(kind: DatabaseKind, options: HarnessOptions = {}): Promise<void> {
    const state = await freshState(kind);
    this.cleanups.push(state.cleanup);
    this.state = { db: state.test.db, stateDir: state.stateDir };
    this.options = options;
    await this.launch();
  }

  /** Stops the aggregator and starts a new one on the same database, state and port. */
  async restart(): Promise<void> {
    const { port } = this.agg;
    await this.agg.app.close();
    await this.launch(port);
  }

  /** Starts and registers one fake hospital per entry, in order. */
  async addHospitals(
    specs: Record<string, FakeBehaviour>,
  ): Promise<Record<string, RegisteredFake>> {
    const fakes: Record<string, RegisteredFake> = {};
    for (const [name, behaviour] of Object.entries(specs)) {
      const fake = await startFakeHospital(name, () => this.agg.url, { ...behaviour });
      this.cleanups.push(async () => {
        await fake.settled();
        await fake.close();
      });
      const { id, token } = await registerHospital(this.agg.url, name, fake.url);
      fake.token = token;
      fakes[name] = Object.assign(fake, { id });
    }
    return fakes;
  }

  /** Runs `cleanup` on close, before everything started until now (e.g. releasing holds). */
  onClose(cleanup: () => void | Promise<void>): void {
    this.cleanups.push(async () => {
      await cleanup();
    });
  }

  /** POST /rounds with TINY_RUN overridden by `body`, as the admin. */
  postRun(body: Record<string, unknown>) {
    return json<{ id: string; error: { code: string; message: string } }>(
      `${this.agg.url}/rounds`,
      {
        method: 'POST',
        token: ADMIN_TOKEN,
        body: JSON.stringify({ ...TINY_RUN, ...body }),
      },
    );
  }

  /** postRun, then waits for the run to end and returns its detail (throws unless 202). */
  async runToEnd(body: Record<string, unknown>): Promise<RunDetailBody> {
    const started = await this.postRun(body);
    if (started.status !== 202)
      throw new Error(`POST /rounds answered ${started.status}: ${JSON.stringify(started.body)}`);
    return waitForRun(this.agg.url, started.body.id);
  }

  async close(): Promise<void> {
    for (const cleanup of this.cleanups.reverse()) await cleanup();
    this.cleanups = [];
    this.current = undefined;
    this.state = undefined;
    this.options = {};
  }

  private async launch(port?: number): Promise<void> {
    const { db, stateDir } = this.state!;
    const agg = await startAggregator(db, stateDir, { ...this.options, port });
    this.cleanups.push(() => agg.app.close());
    this.current = agg;
  }
}

/**
 * A token test's aggregator (hospital-admin, reader-tokens): registers the hooks (the test
 * backend once; after each test everything closed and the clock reset) and returns the harness,
 * `clock` (its `skewMs` moves the aggregator's clock of token expiry ahead of the real one) and
 * `setUp`, an aggregator on `kind` with that clock and, with `logLines`, every log line (level
 * trace, secrets redacted as in production) pushed there.
 */
export function useTokenTestAggregator(): {
  h: AggregatorHarness;
  clock: { skewMs: number };
  setUp(logLines?: string[], kind?: DatabaseKind): Promise<void>;
} {
  const h = new AggregatorHarness();
  const clock = { skewMs: 0 };
  beforeAll(useTestBackend);
  afterEach(async () => {
    await h.close();
    clock.skewMs = 0;
  });
  const logger = (lines: string[]): AggregatorDeps['logger'] => ({
    level: 'trace',
    redact: REDACTED_PATHS,
    stream: { write: (line: string) => lines.push(line) },
  });
  return {
    h,
    clock,
    setUp: (logLines, kind = 'pglite') =>
      h.start(kind, {
        deps: {
          now: () => Date.now() + clock.skewMs,
          ...(logLines ? { logger: logger(logLines) } : {}),
        },
      }),
  };
}
