// The platform as real processes: one aggregator and hospital nodes, each node with its own
// patient-level share of the shipped sample, plus optional malicious nodes.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeSelfSignedCertificate } from '../helpers/certificate.ts';
import { partitionSample } from '../helpers/sample-partition.ts';
import { freePort, ServiceProcess, waitFor } from './processes.ts';

export const ADMIN_TOKEN = 'faults-admin-token-0123456789abcdef';

/** Tiny enough for 2 CPU cores; localEpochs makes a round last long enough to crash into. */
export const TINY_RUN = {
  architecture: 'se-resnet18-gn',
  inputSize: 32,
  width: 8,
  batchSize: 8,
  // Fixed, so that a test that expects promotion gets the same (non-degenerate) model each time.
  seed: 42,
} as const;

export interface RunBody {
  id: string;
  status: string;
  failureReason: string | null;
  finalModelId: string | null;
  currentRound: number;
  rounds: {
    index: number;
    status: string;
    startedAt: string | null;
    finishedAt: string | null;
    failureReason: string | null;
    inputModelId: string | null;
    outputModelId: string | null;
    metrics: Record<string, unknown> | null;
    updates: {
      hospitalName: string;
      status: string;
      failureReason: string | null;
      jobId: string | null;
    }[];
  }[];
}

export interface ModelBody {
  id: string;
  version: number;
  roundIndex: number;
  runId: string | null;
  sha256: string;
}

export interface PlatformOptions {
  hospitals: readonly string[];
  /** Nodes that send poisoned updates (test/faults/malicious-node.ts), by name. */
  malicious?: Record<string, 'scale' | 'nan'>;
  databaseUrl?: string;
  /**
   * Every service on HTTPS with one self-signed certificate (openssl), trusted by the services
   * through NODE_EXTRA_CA_CERTS (malicious nodes stay on HTTP: do not combine). The test process
   * itself must trust it too: see tls-run.test.ts.
   */
  tls?: boolean;
  /** Where the nodes send their updates (default the aggregator: a proxy in front of it). */
  nodeAggregatorUrl?: string;
}

/** The services' TLS variables for one self-signed certificate, trusted by them all. */
async function tlsEnvironment(dir: string): Promise<Record<string, string>> {
  await mkdir(dir, { recursive: true });
  const { certFile, keyFile } = makeSelfSignedCertificate(dir);
  return { TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile, NODE_EXTRA_CA_CERTS: certFile };
}

export class Platform {
  readonly nodes = new Map<string, ServiceProcess>();
  /** Where admin calls go (call, waitForRun): the aggregator, or a standby that took over. */
  adminUrl: string;

  private constructor(
    readonly root: string,
    readonly aggregator: ServiceProcess,
    private readonly scheme: 'http' | 'https',
    /** What admin calls are made with (the global fetch, or one trusting a private CA). */
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.adminUrl = aggregator.url;
  }

  /**
   * An aggregator started by the caller, and later its nodes (add them to `nodes`): for a
   * test that places the services itself (netns-run.test.ts). stop() stops them and removes
   * `root`.
   */
  static of(root: string, aggregator: ServiceProcess, fetchImpl: typeof fetch = fetch): Platform {
    return new Platform(
      root,
      aggregator,
      aggregator.url.startsWith('https:') ? 'https' : 'http',
      fetchImpl,
    );
  }

  static async start(options: PlatformOptions): Promise<Platform> {
    const root = await mkdtemp(path.join(tmpdir(), 'fedxray-faults-'));
    const tlsEnv = options.tls ? await tlsEnvironment(path.join(root, 'tls')) : {};
    const scheme = options.tls ? 'https' : 'http';
    const aggregator = new ServiceProcess(
      'aggregator',
      'services/aggregator/main.ts',
      await freePort(),
      {
        STATE_DIR: path.join(root, 'aggregator'),
        ADMIN_TOKEN,
        ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
        ...tlsEnv,
      },
      scheme,
    );
    const platform = new Platform(root, aggregator, scheme);
    try {
      await aggregator.start();
      const dataDirs = await partitionSample(path.join(root, 'data'), options.hospitals);
      const starts: Promise<void>[] = [];
      for (const [i, name] of options.hospitals.entries()) {
        const { port, token } = await platform.register(name);
        const node = new ServiceProcess(
          name,
          'services/hospital-node/main.ts',
          port,
          {
            HOSPITAL_ID: name,
            DATA_DIR: dataDirs[i],
            AGGREGATOR_URL: options.nodeAggregatorUrl ?? aggregator.url,
            HOSPITAL_TOKEN: token,
            VAL_FRACTION: '0.2',
            ...tlsEnv,
          },
          scheme,
        );
        platform.nodes.set(name, node);
        starts.push(node.start());
      }
      for (const [name, poison] of Object.entries(options.malicious ?? {})) {
        const { port, token } = await platform.register(name);
        const node = new ServiceProcess(name, 'test/faults/malicious-node.ts', port, {
          HOSPITAL_ID: name,
          AGGREGATOR_URL: aggregator.url,
          HOSPITAL_TOKEN: token,
          POISON: poison,
        });
        platform.nodes.set(name, node);
        starts.push(node.start());
      }
      await Promise.all(starts);
    } catch (error) {
      await platform.stop();
      throw error;
    }
    return platform;
  }

  private async register(name: string): Promise<{ port: number; token: string }> {
    const port = await freePort();
    const res = await this.call('POST', '/hospitals', {
      name,
      baseUrl: `${this.scheme}://127.0.0.1:${port}`,
    });
    if (res.status !== 201) throw new Error(`registering ${name}: ${JSON.stringify(res.body)}`);
    return { port, token: (res.body as { token: string }).token };
  }

  /** An admin call to the aggregator; JSON in and out. */
  async call(
    method: string,
    route: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    const res = await this.fetchImpl(`${this.adminUrl}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
  }

  async startRun(settings: Record<string, unknown>): Promise<string> {
    const res = await this.call('POST', '/rounds', { ...TINY_RUN, ...settings });
    if (res.status !== 202) throw new Error(`POST /rounds: ${JSON.stringify(res.body)}`);
    return (res.body as { id: string }).id;
  }

  async run(runId: string): Promise<RunBody> {
    const res = await this.call('GET', `/rounds/${runId}`);
    if (res.status !== 200) throw new Error(`GET /rounds/${runId}: ${JSON.stringify(res.body)}`);
    return res.body as RunBody;
  }

  /** Polls until the run has ended (or `until` says so); tolerates an aggregator that is down. */
  async waitForRun(
    runId: string,
    timeoutMs: number,
    until: (run: RunBody) => boolean = (run) => ['completed', 'failed'].includes(run.status),
  ): Promise<RunBody> {
    return waitFor(
      `run ${runId}`,
      async () => {
        const run = await this.run(runId);
        return until(run) ? run : undefined;
      },
      timeoutMs,
      250,
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n${this.logs()}`);
    });
  }

  async models(): Promise<ModelBody[]> {
    const res = await this.call('GET', '/models');
    return (res.body as { models: ModelBody[] }).models;
  }

  /** The tail of every process's output, for a failing assertion. */
  logs(chars = 2500): string {
    return [this.aggregator, ...this.nodes.values()]
      .map((p) => `--- ${p.name} ---\n${p.output.slice(-chars)}`)
      .join('\n');
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.nodes.values()].map((node) => node.stop()));
    await this.aggregator.stop().catch(() => {});
    await rm(this.root, { recursive: true, force: true });
  }
}
