// Hosts of their own for real-process tests: Linux network namespaces on one switch (a bridge
// in a namespace of its own), each host linked to it by a veth pair, with its own address in a
// private /24. Needs root and iproute2's `ip`; netnsProblem() says why not, for skipIf.
//
// The test process, in the root namespace, reaches the hosts through one more veth pair to the
// switch (the controller's address, .1): that link is the only way in or out. No namespace gets
// a default route or any route but its /24, so the hosts' traffic cannot leave the namespaces
// the lab made (a send to any other address fails: network unreachable).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Every lab's namespaces are named `${PREFIX}<pid>-<host>`: one lab per test process. */
const PREFIX = 'fxlab';

function ip(args: readonly string[]): string {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`ip ${args.join(' ')} failed (${result.status}): ${result.stderr.trim()}`);
  }
  return result.stdout;
}

/** A veth pair: `end` where `ip ...where` runs, `peer` in the namespace `peerNetns`. */
function veth(where: readonly string[], end: string, peer: string, peerNetns: string): void {
  ip([...where, 'link', 'add', end, 'type', 'veth', 'peer', 'name', peer, 'netns', peerNetns]);
}

function namespaces(): string[] {
  return ip(['netns', 'list'])
    .split('\n')
    .map((line) => line.split(' ')[0])
    .filter((name) => name !== '');
}

/** Linux only, like namespaces: a process is alive while /proc has it. */
const alive = (pid: number): boolean => existsSync(`/proc/${pid}`);

/**
 * Deletes the namespaces of labs whose test process is gone (a run killed before afterAll),
 * and ends the services still running in them.
 */
function removeLeftovers(): void {
  for (const name of namespaces()) {
    const match = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (!match || alive(Number(match[1]))) continue;
    for (const pid of ip(['netns', 'pids', name]).split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    ip(['netns', 'delete', name]);
  }
}

/**
 * Why namespaces cannot be used here, or null when they can: root, `ip`, and a probe that
 * makes a namespace with a bridge and a veth pair, then deletes it. Probed once.
 */
export const netnsProblem: () => string | null = (() => {
  let answer: string | null | undefined;
  return () => (answer ??= probe());
})();

function probe(): string | null {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not running as root';
  if (spawnSync('ip', ['-V'], { stdio: 'ignore' }).status !== 0) return 'no `ip` (iproute2)';
  const name = `${PREFIX}${process.pid}-probe`;
  try {
    removeLeftovers();
    ip(['netns', 'add', name]);
    ip(['-n', name, 'link', 'add', 'br0', 'type', 'bridge']);
    veth(['-n', name], 'probe0', 'probe1', name);
    return null;
  } catch (error) {
    return `network namespaces cannot be made here: ${(error as Error).message}`;
  } finally {
    spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
  }
}

/** Why NetnsLab.dropInbound cannot be used here (no nftables' `nft`), or null. */
export function firewallProblem(): string | null {
  return spawnSync('nft', ['--version'], { stdio: 'ignore' }).status === 0
    ? null
    : 'no `nft` (nftables)';
}

export interface LabHost {
  name: string;
  /** The namespace: run a command in it with `ip netns exec <netns> ...`. */
  netns: string;
  address: string;
  /** Its veth's end on the switch (in the switch namespace). */
  switchPort: string;
}

/** A switch, hosts on it and the controller link; delete() removes all of it. */
export class NetnsLab {
  readonly hosts = new Map<string, LabHost>();

  private constructor(
    readonly switchNetns: string,
    /** The first three octets of the lab's /24. */
    readonly subnet: string,
    /** The controller link's end in the root namespace. */
    readonly controllerLink: string,
  ) {}

  /** The test process's address on the lab's switch. */
  get controllerAddress(): string {
    return `${this.subnet}.1`;
  }

  /** Hosts .10, .11, ... in the order given, each in its own namespace. */
  static create(hostNames: readonly string[]): NetnsLab {
    removeLeftovers();
    const base = `${PREFIX}${process.pid}`;
    const lab = new NetnsLab(`${base}-switch`, freeSubnet(), `${base}c`);
    try {
      const sw = lab.switchNetns;
      ip(['netns', 'add', sw]);
      ip(['-n', sw, 'link', 'set', 'lo', 'up']);
      ip(['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
      ip(['-n', sw, 'link', 'set', 'br0', 'up']);
      for (const [i, name] of hostNames.entries()) {
        const host: LabHost = {
          name,
          netns: `${base}-${name}`,
          address: `${lab.subnet}.${10 + i}`,
          switchPort: `port${i}`,
        };
        ip(['netns', 'add', host.netns]);
        ip(['-n', host.netns, 'link', 'set', 'lo', 'up']);
        veth(['-n', sw], host.switchPort, 'eth0', host.netns);
        ip(['-n', sw, 'link', 'set', host.switchPort, 'master', 'br0', 'up']);
        ip(['-n', host.netns, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0']);
        ip(['-n', host.netns, 'link', 'set', 'eth0', 'up']);
        lab.hosts.set(name, host);
      }
      // The controller link: its root end gets the controller's address (and so the root
      // namespace a route to the /24, through this link only).
      veth([], lab.controllerLink, 'controller', sw);
      ip(['-n', sw, 'link', 'set', 'controller', 'master', 'br0', 'up']);
      ip(['addr', 'add', `${lab.controllerAddress}/24`, 'dev', lab.controllerLink]);
      ip(['link', 'set', lab.controllerLink, 'up']);
      return lab;
    } catch (error) {
      lab.delete();
      throw error;
    }
  }

  host(name: string): LabHost {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`no host ${name} in the lab`);
    return host;
  }

  /** Cuts a host's cable at the switch: its port there goes down (`ip link set ... down`). */
  cut(name: string): void {
    ip(['-n', this.switchNetns, 'link', 'set', this.host(name).switchPort, 'down']);
  }

  /** Plugs it back in. */
  restore(name: string): void {
    ip(['-n', this.switchNetns, 'link', 'set', this.host(name).switchPort, 'up']);
  }

  /**
   * Puts the host behind a firewall that lets nothing from the lab in: nftables in its
   * namespace drops every new inbound connection except the controller's (the site's own
   * console, so the test can still ask its /health); loopback and the answers to the host's
   * own connections pass. Put it up before the host opens connections: conntrack only knows
   * the connections it saw start. Needs `nft` (firewallProblem()).
   */
  dropInbound(name: string): void {
    const { netns } = this.host(name);
    const nft = (rule: string) => {
      const result = spawnSync('ip', ['netns', 'exec', netns, 'nft', rule], { encoding: 'utf8' });
      if (result.error) throw result.error;
      if (result.status !== 0) throw new Error(`nft ${rule} failed: ${result.stderr.trim()}`);
    };
    nft('add table inet perimeter');
    nft('add chain inet perimeter input { type filter hook input priority 0; policy drop; }');
    nft('add rule inet perimeter input iif lo accept');
    nft('add rule inet perimeter input ct state established,related accept');
    nft(`add rule inet perimeter input ip saddr ${this.controllerAddress} accept`);
  }

  /** Whether a TCP connection from host `from` to `address`:`port` is set up within 2 s. */
  connects(from: string, address: string, port: number): boolean {
    const probe = `exec 3<>/dev/tcp/${address}/${port}`;
    const args = ['netns', 'exec', this.host(from).netns, 'timeout', '2', 'bash', '-c', probe];
    return spawnSync('ip', args, { stdio: 'ignore' }).status === 0;
  }

  /** `ip <args>` inside a host's namespace; its output. */
  ipIn(name: string, args: readonly string[]): string {
    return ip(['-n', this.host(name).netns, ...args]);
  }

  /**
   * Deletes the controller link and the namespaces (with their veth pairs). Namespaces go at
   * once; the kernel frees what was in them a moment later.
   */
  delete(): void {
    spawnSync('ip', ['link', 'delete', this.controllerLink], { stdio: 'ignore' });
    for (const netns of [this.switchNetns, ...[...this.hosts.values()].map((h) => h.netns)]) {
      spawnSync('ip', ['netns', 'delete', netns], { stdio: 'ignore' });
    }
  }
}

/** A /24 in 10.231.0.0/16 that the root namespace has no route to yet. */
function freeSubnet(): string {
  const routes = ip(['-4', 'route', 'show', 'table', 'all']);
  for (let k = 0; k < 250; k++) {
    const subnet = `10.231.${((process.pid + k) % 250) + 1}`;
    if (!routes.includes(`${subnet}.`)) return subnet;
  }
  throw new Error('no free /24 in 10.231.0.0/16');
}
