// The services of a network-namespace test (netns-run, netns-outbound): real processes, each in
// the namespace of its host in a NetnsLab (test/helpers/netns.ts), listening on that host's
// address; on HTTP, or, given a private CA, on HTTPS with a certificate of its own for that
// address, trusting only the CA.
import path from 'node:path';
import { expect } from 'vitest';
import { fetchTrusting, type PrivateCa } from '../helpers/certificate.ts';
import type { NetnsLab } from '../helpers/netns.ts';
import { ADMIN_TOKEN, Platform } from './platform.ts';
import { ServiceProcess } from './processes.ts';

export interface LabHospital {
  /** The port the node listens on, on its host. */
  port: number;
  /** Its share of the sample (DATA_DIR). */
  dataDir: string;
  /** Where the aggregator reaches it (default: its host's address and `port`). */
  baseUrl?: string;
  /** More of the node's environment. */
  env?: Record<string, string>;
}

export class LabServices {
  readonly scheme: 'http' | 'https';
  /** What the services are called with: the global fetch, or one trusting only the CA. */
  readonly fetch: typeof fetch;

  constructor(
    private readonly lab: NetnsLab,
    private readonly ca?: PrivateCa,
  ) {
    this.scheme = ca ? 'https' : 'http';
    this.fetch = ca ? fetchTrusting(ca.caFile) : fetch;
  }

  /** The URL of a service on host `name`, at its address. */
  url(name: string, port: number): string {
    return `${this.scheme}://${this.lab.host(name).address}:${port}`;
  }

  /** A service (not started) in host `name`'s namespace, at its address. */
  service(name: string, entry: string, port: number, env: Record<string, string>): ServiceProcess {
    const host = this.lab.host(name);
    if (!this.ca) {
      return new ServiceProcess(name, entry, port, env, 'http', {
        netns: host.netns,
        host: host.address,
      });
    }
    const { certFile, keyFile } = this.ca.issue(name, [host.address]);
    const tls = {
      TLS_CERT_FILE: certFile,
      TLS_KEY_FILE: keyFile,
      NODE_EXTRA_CA_CERTS: this.ca.caFile,
    };
    return new ServiceProcess(name, entry, port, { ...env, ...tls }, this.scheme, {
      netns: host.netns,
      host: host.address,
      fetch: this.fetch,
    });
  }

  /**
   * The Platform on the aggregator of host `aggregator`, started (no DATABASE_URL: PGlite
   * under `root`/aggregator; a PostgreSQL server would be outside the lab).
   */
  async startAggregator(root: string, port: number): Promise<Platform> {
    const aggregator = this.service('aggregator', 'services/aggregator/main.ts', port, {
      STATE_DIR: path.join(root, 'aggregator'),
      ADMIN_TOKEN,
      PUBLIC_URL: this.url('aggregator', port),
    });
    await aggregator.start();
    return Platform.of(root, aggregator, this.fetch);
  }

  /**
   * Registers hospital `name` with the platform's aggregator and makes its node on host `name`
   * (in platform.nodes; not started).
   */
  async hospitalNode(
    platform: Platform,
    name: string,
    { port, dataDir, baseUrl = this.url(name, port), env = {} }: LabHospital,
  ): Promise<ServiceProcess> {
    const registered = await platform.call('POST', '/hospitals', { name, baseUrl });
    expect(registered.status, JSON.stringify(registered.body)).toBe(201);
    const node = this.service(name, 'services/hospital-node/main.ts', port, {
      HOSPITAL_ID: name,
      DATA_DIR: dataDir,
      AGGREGATOR_URL: platform.aggregator.url,
      HOSPITAL_TOKEN: (registered.body as { token: string }).token,
      VAL_FRACTION: '0.2',
      ...env,
    });
    platform.nodes.set(name, node);
    return node;
  }
}
