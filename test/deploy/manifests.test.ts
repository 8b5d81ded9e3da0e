// The container and deployment files (Dockerfile, .dockerignore, compose.yaml,
// deploy/compose/, deploy/k8s/) checked without building or running anything: no public base
// image can be pulled on our machines, so no image is built in CI. Every YAML file is parsed
// (the `yaml` package) and its structure checked against the services' own code: the variable
// names and default ports of their config.ts, the routes the probes ask, where they write.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { AGGREGATOR_ENV, AggregatorConfigSchema } from '../../services/aggregator/config.ts';
import { HOSPITAL_ENV, HospitalConfigSchema } from '../../services/hospital-node/config.ts';
import {
  INFERENCE_CONFIG_ENV,
  InferenceConfigSchema,
  SHIPPED_MODEL_DIR,
} from '../../services/inference-api/config.ts';
import { MIGRATIONS_DIR } from '../../shared/db/migrate.ts';
import { MIN_TOKEN_LENGTH } from '../../shared/service/secret-file.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The shipped model's weight directories: its members for an ensemble, else itself. */
function shippedWeightDirs(): string[] {
  const metadata = JSON.parse(readFileSync(join(SHIPPED_MODEL_DIR, 'model.json'), 'utf8')) as {
    ensemble?: { members: string[] };
  };
  return metadata.ensemble?.members ?? ['.'];
}
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const repoPath = (absolute: string): string => relative(ROOT, absolute).split('\\').join('/');

// ---- the services, from their own code ------------------------------------------------------

type ServiceName = 'aggregator' | 'hospital-node' | 'inference-api';

interface ServiceFacts {
  /** Every environment variable its config.ts maps to a setting. */
  env: readonly string[];
  port: number;
  image: string;
  main: string;
  readinessPath: string;
}

const SERVICES: Record<ServiceName, ServiceFacts> = {
  aggregator: {
    env: Object.values(AGGREGATOR_ENV),
    port: Number(AggregatorConfigSchema.properties.port.default),
    image: 'fedxray-aggregator',
    main: 'services/aggregator/main.ts',
    readinessPath: '/health',
  },
  'hospital-node': {
    env: Object.values(HOSPITAL_ENV),
    port: Number(HospitalConfigSchema.properties.port.default),
    image: 'fedxray-hospital-node',
    main: 'services/hospital-node/main.ts',
    readinessPath: '/health',
  },
  'inference-api': {
    env: Object.values(INFERENCE_CONFIG_ENV),
    port: Number(InferenceConfigSchema.properties.port.default),
    image: 'fedxray-inference-api',
    main: 'services/inference-api/main.ts',
    readinessPath: '/ready',
  },
};
const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];

/** Variables read outside config.ts, with the file that reads (or, for Node's, documents) it. */
const OTHER_ENV: Record<string, string> = {
  TFJS_BACKEND: 'shared/tf/backend.ts',
  LOG_LEVEL: 'shared/service/create-app.ts',
  NODE_EXTRA_CA_CERTS: 'docs/tls.md',
};

/** The routes the probes ask, and the file that registers each. */
const ROUTES: Record<string, string> = {
  '/health': 'shared/service/create-app.ts',
  '/ready': 'services/inference-api/routes/models.ts',
};

const UID = 10001;

function unknownEnv(names: Iterable<string>, service: ServiceName): string[] {
  const known = new Set([...SERVICES[service].env, ...Object.keys(OTHER_ENV)]);
  return [...names].filter((name) => !known.has(name));
}

// ---- YAML -----------------------------------------------------------------------------------

function yamlDocs(path: string): unknown[] {
  const docs = parseAllDocuments(read(path), { merge: true });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) {
    expect(
      doc.errors.map((e) => e.message),
      `${path} parses`,
    ).toEqual([]);
  }
  return list.map((doc) => doc.toJS() as unknown);
}

function yamlDoc<T>(path: string): T {
  const [doc, ...rest] = yamlDocs(path);
  expect(rest, `${path} holds one document`).toEqual([]);
  return doc as T;
}

// ---- Kubernetes -----------------------------------------------------------------------------

type Labels = Record<string, string>;

interface K8sObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Labels };
  spec?: unknown;
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

interface Probe {
  httpGet?: { path?: string; port?: string | number; scheme?: string };
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string };
    configMapKeyRef?: { name: string; key: string };
  };
}

interface Container {
  name: string;
  image?: string;
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    runAsNonRoot?: boolean;
    capabilities?: { drop?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean; subPath?: string }[];
}

interface Volume {
  name: string;
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  secret?: { secretName: string; items?: { key: string; path: string }[] };
  configMap?: { name: string; items?: { key: string; path: string }[] };
  emptyDir?: Record<string, unknown>;
}

interface PodSpec {
  automountServiceAccountToken?: boolean;
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    runAsGroup?: number;
    fsGroup?: number;
    seccompProfile?: { type?: string };
  };
  containers: Container[];
  volumes?: Volume[];
}

interface Deployment extends K8sObject {
  spec: {
    replicas?: number;
    strategy?: { type?: string };
    selector: { matchLabels: Labels };
    template: { metadata: { labels: Labels }; spec: PodSpec };
  };
}

interface Service extends K8sObject {
  spec: {
    type?: string;
    selector: Labels;
    ports: { name?: string; port: number; targetPort?: string | number }[];
    loadBalancerSourceRanges?: string[];
    externalTrafficPolicy?: string;
  };
}

interface Peer {
  ipBlock?: { cidr: string; except?: string[] };
  namespaceSelector?: { matchLabels?: Labels };
  podSelector?: { matchLabels?: Labels };
}

interface PolicyRule {
  from?: Peer[];
  to?: Peer[];
  ports?: { protocol?: string; port?: number | string }[];
}

interface NetworkPolicy extends K8sObject {
  spec: {
    podSelector: { matchLabels?: Labels };
    policyTypes?: string[];
    ingress?: PolicyRule[];
    egress?: PolicyRule[];
  };
}

interface Hpa extends K8sObject {
  spec: {
    scaleTargetRef: { apiVersion: string; kind: string; name: string };
    minReplicas: number;
    maxReplicas: number;
    metrics: { type: string; resource?: { name: string } }[];
  };
}

interface Pdb extends K8sObject {
  spec: { minAvailable: number; selector: { matchLabels: Labels } };
}

interface Kustomization {
  apiVersion: string;
  kind: string;
  namespace?: string;
  resources?: string[];
  images?: { name: string; newName?: string; newTag?: string }[];
}

/** The stable API version of every kind the manifests may use. */
const STABLE_API: Record<string, string> = {
  Namespace: 'v1',
  ConfigMap: 'v1',
  Secret: 'v1',
  Service: 'v1',
  PersistentVolumeClaim: 'v1',
  Deployment: 'apps/v1',
  HorizontalPodAutoscaler: 'autoscaling/v2',
  PodDisruptionBudget: 'policy/v1',
  NetworkPolicy: 'networking.k8s.io/v1',
};

const K8S_DIR = 'deploy/k8s';
const FOLDERS = ['central', 'hospital'] as const;

interface Folder {
  dir: string;
  files: string[];
  kustomization: Kustomization;
  objects: { file: string; object: K8sObject }[];
}

function loadFolder(name: string): Folder {
  const dir = `${K8S_DIR}/${name}`;
  const files = readdirSync(join(ROOT, dir)).sort();
  const kustomization = yamlDoc<Kustomization>(`${dir}/kustomization.yaml`);
  const objects = files
    .filter((file) => file !== 'kustomization.yaml' && /\.ya?ml$/.test(file))
    .flatMap((file) =>
      yamlDocs(`${dir}/${file}`).map((object) => ({ file, object: object as K8sObject })),
    );
  return { dir, files, kustomization, objects };
}

const folders = Object.fromEntries(FOLDERS.map((name) => [name, loadFolder(name)])) as Record<
  (typeof FOLDERS)[number],
  Folder
>;

function ofKind<T extends K8sObject>(folder: Folder, kind: string): T[] {
  return folder.objects
    .filter(({ object }) => object.kind === kind)
    .map(({ object }) => object as T);
}

function named<T extends K8sObject>(folder: Folder, kind: string, name: string): T | undefined {
  return ofKind<T>(folder, kind).find((object) => object.metadata?.name === name);
}

/** Every label of `selector` is on `labels` (an empty selector matches everything). */
function selects(selector: Labels | undefined, labels: Labels | undefined): boolean {
  return Object.entries(selector ?? {}).every(([key, value]) => labels?.[key] === value);
}

function serviceOf(container: Container): ServiceName {
  const name = SERVICE_NAMES.find((service) => SERVICES[service].image === container.image);
  if (!name) throw new Error(`container ${container.name}: image ${container.image} is no service`);
  return name;
}

function envValue(container: Container, name: string): string | undefined {
  return container.env?.find((entry) => entry.name === name)?.value;
}

/** All variables a container gets: env, and the keys of the ConfigMaps of its envFrom. */
function envNames(folder: Folder, container: Container): string[] {
  const fromMaps = (container.envFrom ?? []).flatMap((source) => {
    const ref = source.configMapRef?.name ?? source.secretRef?.name;
    const kind = source.configMapRef ? 'ConfigMap' : 'Secret';
    const object = ref === undefined ? undefined : named(folder, kind, ref);
    expect(object, `${container.name}: envFrom ${kind} ${ref} exists`).toBeDefined();
    return Object.keys({ ...object?.data, ...object?.stringData });
  });
  return [...(container.env ?? []).map((entry) => entry.name), ...fromMaps];
}

/** Keys of a Secret or ConfigMap. */
function keysOf(object: K8sObject | undefined): string[] {
  return Object.keys({ ...object?.data, ...object?.stringData });
}

/**
 * The volume mounted at the folder of `path` in `container`, and whether that volume holds a
 * file named like the path's last part.
 */
function fileSource(
  folder: Folder,
  pod: PodSpec,
  container: Container,
  path: string,
): { volume?: Volume; readOnly: boolean; holds: boolean } {
  const dir = posix.dirname(path);
  const file = posix.basename(path);
  const mount = container.volumeMounts?.find((m) => m.mountPath === dir);
  const volume = pod.volumes?.find((v) => v.name === mount?.name);
  let holds = false;
  const source = volume?.secret ?? volume?.configMap;
  if (source) {
    const object = volume?.secret
      ? named(folder, 'Secret', volume.secret.secretName)
      : named(folder, 'ConfigMap', volume?.configMap?.name ?? '');
    holds = source.items
      ? source.items.some((item) => item.path === file && keysOf(object).includes(item.key))
      : keysOf(object).includes(file);
  }
  return { volume, readOnly: mount?.readOnly === true, holds };
}

/** Problems with who may reach pods labelled `labels` on `port`: only one address, on that port. */
function ingressProblems(policies: NetworkPolicy[], labels: Labels, port: number): string[] {
  const selecting = policies.filter((p) => selects(p.spec.podSelector.matchLabels, labels));
  const problems: string[] = [];
  if (!selecting.some((p) => p.spec.policyTypes?.includes('Ingress')))
    problems.push('no policy isolates the pods for ingress');
  for (const policy of selecting) {
    for (const rule of policy.spec.ingress ?? []) {
      const where = `${policy.metadata?.name}: ingress rule`;
      if (!rule.from || rule.from.length === 0) problems.push(`${where} admits every source`);
      for (const peer of rule.from ?? []) {
        if (!peer.ipBlock || peer.namespaceSelector || peer.podSelector)
          problems.push(`${where} admits a peer other than the aggregator's address`);
        else if (!/\/32$/.test(peer.ipBlock.cidr))
          problems.push(`${where} admits ${peer.ipBlock.cidr}, more than one address`);
      }
      const ports = rule.ports ?? [];
      if (ports.length === 0) problems.push(`${where} admits every port`);
      for (const p of ports)
        if (p.port !== port || (p.protocol ?? 'TCP') !== 'TCP')
          problems.push(`${where} admits port ${p.protocol ?? 'TCP'}/${p.port}`);
    }
  }
  return problems;
}

/** Problems with where pods labelled `labels` may connect: the aggregator and DNS only. */
function egressProblems(policies: NetworkPolicy[], labels: Labels, aggregatorPort: number) {
  const selecting = policies.filter((p) => selects(p.spec.podSelector.matchLabels, labels));
  const problems: string[] = [];
  if (!selecting.some((p) => p.spec.policyTypes?.includes('Egress')))
    problems.push('no policy isolates the pods for egress');
  for (const policy of selecting) {
    for (const rule of policy.spec.egress ?? []) {
      const where = `${policy.metadata?.name}: egress rule`;
      const ports = (rule.ports ?? []).map((p) => `${p.protocol ?? 'TCP'}/${p.port}`).sort();
      if (!rule.to || rule.to.length === 0) problems.push(`${where} reaches every destination`);
      for (const peer of rule.to ?? []) {
        const dns =
          peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'kube-system' &&
          peer.podSelector?.matchLabels?.['k8s-app'] === 'kube-dns';
        if (dns) {
          if (ports.join() !== 'TCP/53,UDP/53') problems.push(`${where} to DNS: ${ports.join()}`);
        } else if (peer.ipBlock && /\/32$/.test(peer.ipBlock.cidr)) {
          if (ports.join() !== `TCP/${aggregatorPort}`)
            problems.push(`${where} to ${peer.ipBlock.cidr}: ${ports.join() || 'every port'}`);
        } else problems.push(`${where} reaches a peer that is neither the aggregator nor DNS`);
      }
    }
  }
  return problems;
}

// ---- Dockerfile -----------------------------------------------------------------------------

interface Instruction {
  op: string;
  args: string;
}

interface Stage {
  name?: string;
  base: string;
  instructions: Instruction[];
}

function parseDockerfile(text: string): Stage[] {
  const lines = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const stages: Stage[] = [];
  // ARGs before the first FROM: their defaults stand in for ${NAME} in FROM (NODE_IMAGE)
  const globalArgs: Record<string, string> = {};
  for (const line of lines) {
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = op.toUpperCase();
    if (upper === 'ARG' && stages.length === 0) {
      const [name = '', value = ''] = args.split('=');
      globalArgs[name.trim()] = value.trim();
    } else if (upper === 'FROM') {
      const [raw = '', as, name] = args.split(/\s+/);
      const base = raw.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a?: string, b?: string) => {
        const arg = (a ?? b) as string;
        if (!(arg in globalArgs)) throw new Error(`Dockerfile: FROM uses $${arg}, no ARG default`);
        return globalArgs[arg] as string;
      });
      stages.push({ base, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`Dockerfile: ${upper} before FROM`);
      stage.instructions.push({ op: upper, args });
    }
  }
  return stages;
}

/** The stage and the stages it is built FROM, base first. */
function chain(stages: Stage[], name: string): Stage[] {
  const stage = stages.find((s) => s.name === name);
  if (!stage) return [];
  return [...chain(stages, stage.base), stage];
}

function instructions(stages: Stage[], op: string): Instruction[] {
  return stages.flatMap((stage) => stage.instructions.filter((i) => i.op === op));
}

function envOf(stages: Stage[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { args } of instructions(stages, 'ENV'))
    for (const pair of args.split(/\s+/)) {
      const at = pair.indexOf('=');
      if (at > 0) env[pair.slice(0, at)] = pair.slice(at + 1);
    }
  return env;
}

function workdir(stages: Stage[]): string {
  return instructions(stages, 'WORKDIR').at(-1)?.args ?? '/';
}

/** COPY's sources and destination, with its --from when it has one. */
function copies(stage: Stage): { from?: string; sources: string[]; dest: string }[] {
  return stage.instructions
    .filter((i) => i.op === 'COPY')
    .map(({ args }) => {
      const words = args.split(/\s+/);
      const flags = words.filter((w) => w.startsWith('--'));
      const rest = words.filter((w) => !w.startsWith('--'));
      const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
      return { from, sources: rest.slice(0, -1), dest: rest.at(-1) ?? '' };
    });
}

/** .dockerignore's verdict for a repository path: the last pattern matching it or a parent wins. */
function ignored(patterns: string[], path: string): boolean {
  const parts = path.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let result = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const pattern = (negate ? raw.slice(1) : raw).replace(/\/+$/, '').replace(/^\/+/, '');
    const source = pattern
      .split('**')
      .map((piece) =>
        piece
          .split('*')
          .map((text) => text.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('[^/]*'),
      )
      .join('.*');
    const regex = new RegExp(`^${source}$`);
    if (prefixes.some((prefix) => regex.test(prefix))) result = !negate;
  }
  return result;
}

const dockerfile = parseDockerfile(read('Dockerfile'));
const dockerignore = read('.dockerignore')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));

// ---- compose --------------------------------------------------------------------------------

interface ComposeMount {
  type: string;
  source: string;
  target: string;
  read_only?: boolean;
  volume?: { subpath?: string };
}

interface ComposeService {
  image?: string;
  build?: { context?: string; target?: string; args?: Record<string, string> };
  command?: string[];
  environment?: Record<string, string>;
  env_file?: string[];
  secrets?: string[];
  volumes?: (string | ComposeMount)[];
  networks?: string[];
  depends_on?: Record<string, { condition?: string }>;
  healthcheck?: { test?: string[] };
  ports?: string[];
  read_only?: boolean;
  tmpfs?: string[];
  cap_drop?: string[];
  restart?: string;
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  networks?: Record<string, { internal?: boolean } | null>;
  volumes?: Record<string, unknown>;
  secrets?: Record<string, { file?: string }>;
}

function mounts(service: ComposeService): ComposeMount[] {
  return (service.volumes ?? []).map((entry) => {
    if (typeof entry !== 'string') return entry;
    const [source = '', target = '', mode] = entry.split(':');
    const type = source.startsWith('.') || source.startsWith('/') ? 'bind' : 'volume';
    return { type, source, target, read_only: mode === 'ro' };
  });
}

/** The mount at `path` or at a folder above it. */
function mountAt(service: ComposeService, path: string): ComposeMount | undefined {
  return mounts(service)
    .filter((m) => path === m.target || path.startsWith(`${m.target}/`))
    .sort((a, b) => b.target.length - a.target.length)[0];
}

const BOOTSTRAP_SCRIPT = 'deploy/docker/federation-bootstrap.mjs';

/** A compose value with its `${NAME:-default}` interpolations replaced by their defaults. */
function composeDefault(value: string): string {
  return value.replace(/\$\{\w+:-([^}]*)\}/g, '$1');
}

/** Which fedxray service a compose service runs: its build target, else its image's. */
function composeKind(file: ComposeFile, name: string): ServiceName | 'bootstrap' | undefined {
  const service = file.services[name];
  if (service?.command?.some((word) => word.includes(BOOTSTRAP_SCRIPT))) return 'bootstrap';
  const target =
    service?.build?.target ??
    Object.values(file.services).find((other) => other.image === service?.image && other.build)
      ?.build?.target;
  if (target && (SERVICE_NAMES as string[]).includes(target)) return target as ServiceName;
  const image = service?.image?.replace(/^\$\{[A-Z_]+:-/, '').replace(/\}$/, '');
  return SERVICE_NAMES.find((s) => image?.split(':')[0] === SERVICES[s].image);
}

const compose = yamlDoc<ComposeFile>('compose.yaml');
const hospitalCompose = yamlDoc<ComposeFile>('deploy/compose/hospital-node.yaml');
const SECRET_VALUE = /(TOKEN|PASSWORD|SECRET|API_KEYS|DATABASE_URL)$/;

// ---- the tests ------------------------------------------------------------------------------

describe('the checks themselves', () => {
  it('catch a wrong variable, a selector that misses, an open ingress and an ignored path', () => {
    expect(unknownEnv(['PORT', 'HOSPTIAL_ID'], 'hospital-node')).toEqual(['HOSPTIAL_ID']);
    expect(selects({ app: 'a' }, { app: 'b' })).toBe(false);
    expect(selects({ app: 'a' }, { app: 'a', tier: 'x' })).toBe(true);
    const labels = { app: 'node' };
    const closed: NetworkPolicy = {
      kind: 'NetworkPolicy',
      spec: {
        podSelector: { matchLabels: labels },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [{ ipBlock: { cidr: '192.0.2.1/32' } }], ports: [{ port: 3101 }] }],
      },
    };
    expect(ingressProblems([closed], labels, 3101)).toEqual([]);
    const openToAll: NetworkPolicy = {
      kind: 'NetworkPolicy',
      metadata: { name: 'allow-all' },
      spec: { podSelector: {}, ingress: [{}] },
    };
    expect(ingressProblems([closed, openToAll], labels, 3101)).toEqual([
      'allow-all: ingress rule admits every source',
      'allow-all: ingress rule admits every port',
    ]);
    const podPeer: NetworkPolicy = {
      ...closed,
      spec: { ...closed.spec, ingress: [{ from: [{ podSelector: {} }], ports: [{ port: 3101 }] }] },
    };
    expect(ingressProblems([podPeer], labels, 3101)).toHaveLength(1);
    expect(egressProblems([closed], labels, 443)).toEqual([]);
    expect(ignored(['*', '!services/'], 'services/a.ts')).toBe(false);
    expect(ignored(['*', '!services/', 'services/x/'], 'services/x/a.ts')).toBe(true);
    expect(ignored(['*', '!services/'], 'data/sample/a.png')).toBe(true);
  });
});

describe('Dockerfile', () => {
  it('is multi-stage, every stage on node:20 slim or an earlier stage', () => {
    expect(dockerfile.length).toBeGreaterThanOrEqual(2);
    const seen: string[] = [];
    for (const stage of dockerfile) {
      if (!seen.includes(stage.base)) expect(stage.base).toMatch(/^node:20[\w.-]*-slim$/);
      if (stage.name) seen.push(stage.name);
    }
  });

  it('installs from the lockfile and generates the Prisma client where the code imports it', () => {
    const deps = dockerfile.find((stage) => stage.name === 'deps');
    const run = deps?.instructions.filter((i) => i.op === 'RUN').map((i) => i.args) ?? [];
    expect(run.join(' ')).toMatch(/npm ci\b/);
    expect(run.join(' ')).toMatch(/prisma generate\b/);
    expect(read('prisma/schema.prisma')).toMatch(/output\s*=\s*"\.\.\/shared\/db\/generated"/);
    const runtime = chain(dockerfile, 'runtime');
    const fromDeps = copies(runtime.at(-1) as Stage).filter((c) => c.from === 'deps');
    expect(fromDeps.flatMap((c) => c.sources).sort()).toEqual([
      '/app/node_modules',
      '/app/shared/db/generated',
    ]);
  });

  for (const service of SERVICE_NAMES) {
    it(`${service}: a target running its main.ts as uid ${UID}, with a HEALTHCHECK on /health`, () => {
      const stages = chain(dockerfile, service);
      expect(stages.length, `a stage named ${service}`).toBeGreaterThan(1);
      const user = instructions(stages, 'USER').at(-1)?.args;
      expect(user).toBe(`${UID}:${UID}`);
      expect(
        instructions(stages, 'RUN')
          .map((i) => i.args)
          .join(' '),
      ).toContain(`useradd --system --uid ${UID}`);
      const healthcheck = instructions(stages, 'HEALTHCHECK').at(-1)?.args ?? '';
      expect(healthcheck).toMatch(/CMD \["node", "deploy\/docker\/healthcheck\.mjs"\]$/);
      const probe = read('deploy/docker/healthcheck.mjs');
      expect(probe).toContain("'/health'");
      expect(probe).toMatch(/\bfetch\(/);
      const cmd = JSON.parse(instructions(stages, 'CMD').at(-1)?.args ?? 'null') as string[];
      expect(cmd).toEqual(['node', '--import', 'tsx', SERVICES[service].main]);
      expect(existsSync(join(ROOT, SERVICES[service].main))).toBe(true);
      const env = envOf(stages);
      expect(env.PORT).toBe(String(SERVICES[service].port));
      expect(instructions(stages, 'EXPOSE').at(-1)?.args).toBe(String(SERVICES[service].port));
      expect(env.HOST).toBe('0.0.0.0');
      expect(unknownEnv(Object.keys(env), service)).toEqual([]);
    });
  }

  it('copies only files that exist and that .dockerignore lets into the context', () => {
    const sources = dockerfile.flatMap((stage) =>
      copies(stage)
        .filter((c) => c.from === undefined)
        .flatMap((c) => c.sources),
    );
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) {
      expect(existsSync(join(ROOT, source)), `${source} exists`).toBe(true);
      expect(ignored(dockerignore, source), `${source} is in the build context`).toBe(false);
    }
    const firstMigration = readdirSync(MIGRATIONS_DIR).find((name) =>
      existsSync(join(MIGRATIONS_DIR, name, 'migration.sql')),
    );
    expect(firstMigration).toBeDefined();
    for (const path of [
      SERVICES.aggregator.main,
      `${repoPath(MIGRATIONS_DIR)}/${firstMigration}/migration.sql`,
      ...shippedWeightDirs().map((dir) =>
        posix.join(repoPath(SHIPPED_MODEL_DIR), dir, 'weights.bin'),
      ),
      'deploy/docker/healthcheck.mjs',
      BOOTSTRAP_SCRIPT,
    ])
      expect(ignored(dockerignore, path), `${path} is in the build context`).toBe(false);
    for (const path of [
      '.state/local.json',
      'node_modules/fastify/package.json',
      'data/sample/manifest.csv',
      'bench/out/x.json',
      'deploy/compose/secrets/admin-token',
      'shared/db/generated/client.ts',
      '.git/config',
    ])
      expect(ignored(dockerignore, path), `${path} stays out`).toBe(true);
    // the aggregator applies prisma/migrations at start (openDatabase): they are in the image
    const copied = chain(dockerfile, 'aggregator').flatMap((stage) =>
      copies(stage).flatMap((c) => c.sources),
    );
    expect(copied).toContain('prisma');
    expect(repoPath(MIGRATIONS_DIR)).toBe('prisma/migrations');
  });

  it('puts the shipped model into the inference target, where the service looks for it', () => {
    const stages = chain(dockerfile, 'inference-api');
    const model = repoPath(SHIPPED_MODEL_DIR);
    const copy = copies(stages.at(-1) as Stage).find((c) => c.sources.includes(model));
    expect(copy, `COPY ${model}`).toBeDefined();
    const inImage = posix.join(workdir(stages), copy?.dest ?? '');
    expect(inImage).toBe(posix.join(workdir(stages), model));
    expect(envOf(stages).MODEL_DIR).toBe(inImage);
    expect(statSync(join(SHIPPED_MODEL_DIR, 'model.json')).size).toBeGreaterThan(0);
    for (const dir of shippedWeightDirs())
      for (const file of ['model.json', 'weights.json', 'weights.bin'])
        expect(statSync(join(SHIPPED_MODEL_DIR, dir, file)).size).toBeGreaterThan(0);
    for (const other of ['aggregator', 'hospital-node'])
      expect(
        chain(dockerfile, other).flatMap((s) => copies(s).flatMap((c) => c.sources)),
      ).not.toContain(model);
  });
});

describe('compose.yaml', () => {
  const services = compose.services;
  const nodes = Object.keys(services).filter(
    (name) => composeKind(compose, name) === 'hospital-node',
  );

  it('has PostgreSQL, the aggregator, three hospital nodes and the inference API', () => {
    // ${POSTGRES_IMAGE:-postgres:16-bookworm}: another base where it cannot be pulled
    expect(composeDefault(services.postgres?.image ?? '')).toMatch(/^postgres:\d+/);
    // NODE_IMAGE, passed on to the Dockerfile's ARG, defaults to the same official image
    const nodeImage = /^ARG NODE_IMAGE=(\S+)$/m.exec(read('Dockerfile'))?.[1];
    expect(nodeImage).toMatch(/^node:20[\w.-]*-slim$/);
    for (const [name, service] of Object.entries(services))
      if (service.build)
        expect(composeDefault(service.build.args?.NODE_IMAGE ?? ''), name).toBe(nodeImage);
    expect(nodes).toEqual(['hospital-1', 'hospital-2', 'hospital-3']);
    expect(Object.keys(services).map((name) => composeKind(compose, name))).toEqual([
      undefined, // postgres
      'aggregator',
      'bootstrap',
      'hospital-node',
      'hospital-node',
      'hospital-node',
      'inference-api',
    ]);
  });

  it('gives every long-running service a healthcheck and starts each after what it needs', () => {
    for (const [name, service] of Object.entries(services)) {
      if (composeKind(compose, name) === 'bootstrap') {
        expect(service.restart).toBe('no');
        continue;
      }
      expect(service.healthcheck?.test, `${name}: healthcheck`).toBeDefined();
      if (composeKind(compose, name))
        expect(service.healthcheck?.test).toEqual(['CMD', 'node', 'deploy/docker/healthcheck.mjs']);
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(Object.keys(services), `${name} depends on ${dependency}`).toContain(dependency);
        const wanted =
          composeKind(compose, dependency) === 'bootstrap'
            ? 'service_completed_successfully'
            : 'service_healthy';
        expect(condition, `${name} -> ${dependency}`).toBe(wanted);
      }
    }
    expect(Object.keys(services.aggregator?.depends_on ?? {})).toEqual(['postgres']);
    for (const name of [...nodes, 'inference-api'])
      expect(Object.keys(services[name]?.depends_on ?? {}).sort()).toEqual([
        'aggregator',
        'bootstrap',
      ]);
  });

  it('runs each service on its default port, with only the variables it reads', () => {
    for (const [name, service] of Object.entries(services)) {
      const kind = composeKind(compose, name);
      if (kind === undefined || kind === 'bootstrap') continue;
      const env = service.environment ?? {};
      expect(env.PORT, `${name}: PORT`).toBe(String(SERVICES[kind].port));
      expect(unknownEnv(Object.keys(env), kind), name).toEqual([]);
      expect(service.healthcheck?.test).toBeDefined();
      for (const port of service.ports ?? [])
        expect(port).toBe(`127.0.0.1:${SERVICES[kind].port}:${SERVICES[kind].port}`);
      // read-only root: STATE_DIR is a writable volume, /tmp a tmpfs
      expect(service.read_only, `${name}: read_only`).toBe(true);
      expect(service.tmpfs).toContain('/tmp');
      expect(service.cap_drop).toEqual(['ALL']);
      const state = mountAt(service, env.STATE_DIR ?? '');
      expect(state?.target, `${name}: STATE_DIR is a volume`).toBe(env.STATE_DIR);
      expect(state?.read_only ?? false).toBe(false);
    }
    const script = read(BOOTSTRAP_SCRIPT);
    const readByScript = new Set(
      [...script.matchAll(/process\.env\.([A-Z_]+)|required\('([A-Z_]+)'\)/g)].map(
        (m) => m[1] ?? m[2],
      ),
    );
    const bootstrap = Object.keys(services.bootstrap?.environment ?? {});
    expect(bootstrap.length).toBeGreaterThan(0);
    expect(bootstrap.filter((name) => !readByScript.has(name))).toEqual([]);
  });

  it('writes no secret into the file: tokens and passwords come from git-ignored files', () => {
    const secretsDir = 'deploy/compose/secrets';
    expect(read(`${secretsDir}/.gitignore`).split('\n')).toEqual(
      expect.arrayContaining(['*', '!.gitignore']),
    );
    const init = read('deploy/compose/init-secrets.sh');
    const written = new Map(
      [...init.matchAll(/^write (\S+) \d+ "([A-Z_]+)?=?/gm)].map((m) => [m[1], m[2]]),
    );
    for (const [file, source] of [
      ['compose.yaml', compose],
      ['deploy/compose/hospital-node.yaml', hospitalCompose],
    ] as const) {
      for (const [name, service] of Object.entries(source.services))
        for (const variable of Object.keys(service.environment ?? {}))
          expect(variable, `${file}: ${name}: ${variable} holds a secret`).not.toMatch(
            SECRET_VALUE,
          );
      for (const [name, secret] of Object.entries(source.secrets ?? {})) {
        const path = posix.join(posix.dirname(file), secret.file ?? '');
        expect(path.startsWith(`${secretsDir}/`), `${name}: ${path}`).toBe(true);
      }
    }
    // compose.yaml's secret files and env files are all written by init-secrets.sh, and an
    // env file sets only variables its service reads
    for (const secret of Object.values(compose.secrets ?? {}))
      expect(written.has(posix.basename(secret.file ?? ''))).toBe(true);
    for (const [name, service] of Object.entries(services))
      for (const envFile of service.env_file ?? []) {
        expect(envFile.startsWith(`${secretsDir}/`)).toBe(true);
        const variable = written.get(posix.basename(envFile));
        expect(variable, `${envFile} is written by init-secrets.sh`).toBeDefined();
        const kind = composeKind(compose, name);
        if (kind === undefined || kind === 'bootstrap') throw new Error(`${name}: env_file`);
        expect(unknownEnv([variable ?? ''], kind)).toEqual([]);
        expect(variable).toMatch(SECRET_VALUE);
      }
    for (const [name, service] of Object.entries(services))
      for (const secret of service.secrets ?? [])
        expect(Object.keys(compose.secrets ?? {}), `${name}: secret ${secret}`).toContain(secret);
    expect(services.aggregator?.environment?.ADMIN_TOKEN_FILE).toBe('/run/secrets/admin_token');
    expect(services.postgres?.environment?.POSTGRES_PASSWORD_FILE).toBe(
      '/run/secrets/postgres_password',
    );
  });

  it('gives each node its own images, state, token and network, shared with the aggregator only', () => {
    const ids = new Set<string>();
    const used = new Set<string>();
    const script = services.bootstrap?.environment ?? {};
    const registered = (script.HOSPITALS ?? '').split(',');
    for (const name of nodes) {
      const node = services[name] as ComposeService;
      const env = node.environment ?? {};
      ids.add(env.HOSPITAL_ID ?? '');
      expect(env.HOSPITAL_ID).toBe(name);
      expect(env.AGGREGATOR_URL).toBe(`http://aggregator:${SERVICES.aggregator.port}`);
      expect(registered).toContain(`${name}=http://${name}:${SERVICES['hospital-node'].port}`);
      const data = mountAt(node, env.DATA_DIR ?? '');
      expect(data?.read_only, `${name}: DATA_DIR read-only`).toBe(true);
      const state = mountAt(node, env.STATE_DIR ?? '');
      const token = mountAt(node, env.HOSPITAL_TOKEN_FILE ?? '');
      expect(token?.volume?.subpath, `${name}: its own token folder`).toBe(name);
      expect(token?.read_only).toBe(true);
      for (const key of [data?.source, state?.source, `${token?.source}/${name}`]) {
        expect(key).toBeDefined();
        expect(used.has(key ?? ''), `${name}: ${key} is its own`).toBe(false);
        used.add(key ?? '');
      }
      for (const network of node.networks ?? []) {
        const members = Object.keys(services).filter((s) =>
          services[s]?.networks?.includes(network),
        );
        expect(members.sort(), `network ${network}`).toEqual(['aggregator', name].sort());
        expect(compose.networks?.[network]?.internal, `${network} is internal`).toBe(true);
      }
    }
    expect(ids.size).toBe(nodes.length);
    const inference = services['inference-api'] as ComposeService;
    const readerToken = mountAt(inference, inference.environment?.AGGREGATOR_TOKEN_FILE ?? '');
    expect(readerToken?.volume?.subpath).toBe(script.READER_NAME);
    expect(services.postgres?.networks).toEqual(['database']);
  });

  it('deploy/compose/hospital-node.yaml runs one node over HTTPS with its files as secrets', () => {
    const entries = Object.entries(hospitalCompose.services);
    expect(entries).toHaveLength(1);
    const [[name, node]] = entries as [[string, ComposeService]];
    expect(composeKind(hospitalCompose, name)).toBe('hospital-node');
    const env = node.environment ?? {};
    expect(unknownEnv(Object.keys(env), 'hospital-node')).toEqual([]);
    expect(env.PORT).toBe(String(SERVICES['hospital-node'].port));
    expect(node.ports).toEqual([`${env.PORT}:${env.PORT}`]);
    for (const variable of [
      'HOSPITAL_TOKEN_FILE',
      'TLS_CERT_FILE',
      'TLS_KEY_FILE',
      'NODE_EXTRA_CA_CERTS',
    ]) {
      const [, secret] = /^\/run\/secrets\/(\w+)$/.exec(env[variable] ?? '') ?? [];
      expect(secret, `${variable} is a compose secret`).toBeDefined();
      expect(node.secrets).toContain(secret);
      expect(Object.keys(hospitalCompose.secrets ?? {})).toContain(secret);
    }
    expect(mountAt(node, env.DATA_DIR ?? '')?.read_only).toBe(true);
    expect(mountAt(node, env.STATE_DIR ?? '')?.target).toBe(env.STATE_DIR);
    expect(node.read_only).toBe(true);
    expect(node.healthcheck?.test).toEqual(['CMD', 'node', 'deploy/docker/healthcheck.mjs']);
  });
});

describe('Kubernetes manifests (deploy/k8s)', () => {
  it('parse, and every object has apiVersion, kind and metadata.name in a stable API version', () => {
    for (const folder of Object.values(folders)) {
      expect(folder.objects.length).toBeGreaterThan(5);
      for (const { file, object } of folder.objects) {
        const where = `${folder.dir}/${file}: ${object.kind} ${object.metadata?.name}`;
        expect(object.metadata?.name, where).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
        expect(STABLE_API[object.kind ?? ''], `${where}: a known kind`).toBeDefined();
        expect(object.apiVersion, where).toBe(STABLE_API[object.kind ?? '']);
      }
    }
  });

  it('each kustomization lists exactly the files of its folder and names every image', () => {
    for (const folder of Object.values(folders)) {
      const { kustomization } = folder;
      expect(kustomization.apiVersion).toBe('kustomize.config.k8s.io/v1beta1');
      expect(kustomization.kind).toBe('Kustomization');
      const listed = [...(kustomization.resources ?? [])].sort();
      for (const file of listed) expect(existsSync(join(ROOT, folder.dir, file)), file).toBe(true);
      expect(listed).toEqual(folder.files.filter((file) => file !== 'kustomization.yaml'));
      expect(named(folder, 'Namespace', kustomization.namespace ?? '')).toBeDefined();
      const images = ofKind<Deployment>(folder, 'Deployment').flatMap((d) =>
        d.spec.template.spec.containers.map((c) => c.image),
      );
      expect((kustomization.images ?? []).map((i) => i.name).sort()).toEqual(
        [...new Set(images)].sort(),
      );
      for (const object of folder.objects.map((o) => o.object))
        expect(object.metadata?.namespace, 'the namespace comes from the kustomization').toBe(
          undefined,
        );
    }
  });

  it('central runs the aggregator and the inference API; hospital the node alone', () => {
    const services = (folder: Folder) =>
      ofKind<Deployment>(folder, 'Deployment')
        .flatMap((d) => d.spec.template.spec.containers.map(serviceOf))
        .sort();
    expect(services(folders.central)).toEqual(['aggregator', 'inference-api']);
    expect(services(folders.hospital)).toEqual(['hospital-node']);
    expect(ofKind(folders.central, 'Secret').map((s) => s.metadata?.name)).toContain('aggregator');
  });

  it("selects each Deployment's own pods, and a Service for each that exists", () => {
    for (const folder of Object.values(folders)) {
      const deployments = ofKind<Deployment>(folder, 'Deployment');
      for (const d of deployments) {
        const { matchLabels } = d.spec.selector;
        expect(Object.keys(matchLabels).length, d.metadata?.name).toBeGreaterThan(0);
        expect(selects(matchLabels, d.spec.template.metadata.labels), d.metadata?.name).toBe(true);
      }
      const services = ofKind<Service>(folder, 'Service');
      for (const service of services) {
        const targets = deployments.filter((d) =>
          selects(service.spec.selector, d.spec.template.metadata.labels),
        );
        expect(Object.keys(service.spec.selector).length).toBeGreaterThan(0);
        expect(
          targets.map((d) => d.metadata?.name),
          `Service ${service.metadata?.name}`,
        ).toEqual([service.metadata?.name]);
        const ports = targets[0]?.spec.template.spec.containers.flatMap((c) => c.ports ?? []);
        for (const port of service.spec.ports)
          expect(ports?.map((p) => p.name)).toContain(port.targetPort);
      }
      expect(services.length).toBe(deployments.length);
    }
  });

  it("listens on each service's default port, with liveness on /health and readiness on its route", () => {
    for (const [route, file] of Object.entries(ROUTES)) expect(read(file)).toContain(`'${route}'`);
    for (const folder of Object.values(folders))
      for (const d of ofKind<Deployment>(folder, 'Deployment'))
        for (const container of d.spec.template.spec.containers) {
          const service = serviceOf(container);
          const { port, readinessPath } = SERVICES[service];
          const [namedPort, ...more] = container.ports ?? [];
          expect(more).toEqual([]);
          expect(namedPort?.containerPort, container.name).toBe(port);
          expect(envValue(container, 'PORT')).toBe(String(port));
          expect(envValue(container, 'HOST')).toBe('0.0.0.0');
          const scheme = envValue(container, 'TLS_CERT_FILE') ? 'HTTPS' : undefined;
          const probes = {
            startupProbe: '/health',
            livenessProbe: '/health',
            readinessProbe: readinessPath,
          };
          for (const [probe, path] of Object.entries(probes)) {
            const get = container[probe as keyof typeof probes]?.httpGet;
            expect(get?.path, `${container.name} ${probe}`).toBe(path);
            expect(get?.port, `${container.name} ${probe}: the named port`).toBe(namedPort?.name);
            expect(get?.scheme, `${container.name} ${probe}: scheme`).toBe(scheme);
          }
        }
  });

  it('gives every container requests, limits and the restricted security context', () => {
    for (const folder of Object.values(folders))
      for (const d of ofKind<Deployment>(folder, 'Deployment')) {
        const pod = d.spec.template.spec;
        expect(pod.automountServiceAccountToken).toBe(false);
        expect(pod.securityContext).toMatchObject({
          runAsNonRoot: true,
          runAsUser: UID,
          runAsGroup: UID,
          fsGroup: UID,
          seccompProfile: { type: 'RuntimeDefault' },
        });
        for (const container of pod.containers) {
          expect(container.resources?.requests?.cpu, container.name).toBeDefined();
          expect(container.resources?.requests?.memory, container.name).toBeDefined();
          expect(container.resources?.limits?.memory, container.name).toBeDefined();
          expect(container.securityContext).toEqual({
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            capabilities: { drop: ['ALL'] },
          });
        }
      }
    for (const folder of Object.values(folders))
      for (const ns of ofKind(folder, 'Namespace'))
        expect(ns.metadata?.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it('mounts a writable volume wherever a service writes, and every file it is told to read', () => {
    for (const folder of Object.values(folders))
      for (const d of ofKind<Deployment>(folder, 'Deployment')) {
        const pod = d.spec.template.spec;
        for (const volume of pod.volumes ?? []) {
          if (volume.persistentVolumeClaim)
            expect(
              named(folder, 'PersistentVolumeClaim', volume.persistentVolumeClaim.claimName),
            ).toBeDefined();
          if (volume.secret)
            expect(named(folder, 'Secret', volume.secret.secretName)).toBeDefined();
          if (volume.configMap)
            expect(named(folder, 'ConfigMap', volume.configMap.name)).toBeDefined();
        }
        for (const container of pod.containers) {
          const mounts = container.volumeMounts ?? [];
          for (const mount of mounts) {
            expect(pod.volumes?.map((v) => v.name)).toContain(mount.name);
            // a subPath mount never sees a changed Secret: rotation needs whole folders
            expect(mount.subPath, `${container.name}: ${mount.mountPath}`).toBeUndefined();
          }
          for (const dir of [envValue(container, 'STATE_DIR'), '/tmp']) {
            const mount = mounts.find((m) => m.mountPath === dir);
            expect(mount, `${container.name}: ${dir} is a volume`).toBeDefined();
            expect(mount?.readOnly ?? false, `${container.name}: ${dir} writable`).toBe(false);
          }
          const data = envValue(container, 'DATA_DIR');
          if (data !== undefined) {
            const mount = mounts.find((m) => m.mountPath === data);
            const volume = pod.volumes?.find((v) => v.name === mount?.name);
            expect(mount?.readOnly).toBe(true);
            expect(volume?.persistentVolumeClaim?.readOnly).toBe(true);
          }
          const files = (container.env ?? []).filter(
            (e) => /_FILE$/.test(e.name) || e.name === 'NODE_EXTRA_CA_CERTS',
          );
          expect(files.length).toBeGreaterThan(0);
          for (const { name, value } of files) {
            const source = fileSource(folder, pod, container, value ?? '');
            expect(source.holds, `${container.name}: ${name}=${value} is mounted`).toBe(true);
            expect(source.readOnly).toBe(true);
          }
          for (const { valueFrom } of container.env ?? []) {
            const ref = valueFrom?.secretKeyRef;
            if (ref) expect(keysOf(named(folder, 'Secret', ref.name))).toContain(ref.key);
          }
        }
      }
  });

  it('sets only variables the services read', () => {
    for (const folder of Object.values(folders))
      for (const d of ofKind<Deployment>(folder, 'Deployment'))
        for (const container of d.spec.template.spec.containers) {
          const names = envNames(folder, container);
          expect(unknownEnv(names, serviceOf(container)), container.name).toEqual([]);
          // a secret comes from a Secret (a key or a mounted file), never a literal or a ConfigMap
          const direct = (container.env ?? []).map((entry) => entry.name);
          for (const name of names.filter((n) => SECRET_VALUE.test(n))) {
            const entry = container.env?.find((e) => e.name === name);
            expect(direct, `${container.name}: ${name} not from a ConfigMap`).toContain(name);
            expect(entry?.value, `${container.name}: ${name} is no literal`).toBeUndefined();
            expect(entry?.valueFrom?.secretKeyRef, `${container.name}: ${name}`).toBeDefined();
          }
        }
    for (const [name, file] of Object.entries(OTHER_ENV)) expect(read(file)).toContain(name);
  });

  it('commits only placeholders, too short to be a token, so a service refuses to start with them', () => {
    for (const folder of Object.values(folders))
      for (const secret of ofKind(folder, 'Secret')) {
        expect(secret.data, 'stringData only').toBeUndefined();
        const entries = Object.entries(secret.stringData ?? {});
        expect(entries.length).toBeGreaterThan(0);
        for (const [key, value] of entries) {
          expect(value, `${secret.metadata?.name}.${key}`).toContain('REPLACE_ME');
          if (key === 'DATABASE_URL')
            expect(value).toMatch(
              new RegExp(AggregatorConfigSchema.properties.databaseUrl.pattern as string),
            );
          else expect(value.length).toBeLessThan(MIN_TOKEN_LENGTH);
        }
      }
    const ca = named(folders.hospital, 'ConfigMap', 'federation-ca');
    expect(ca?.data?.['ca.crt']).toContain('REPLACE_ME');
  });

  it('scales the inference API on CPU, and keeps one replica through a drain', () => {
    const [hpa] = ofKind<Hpa>(folders.central, 'HorizontalPodAutoscaler');
    const deployment = named<Deployment>(folders.central, 'Deployment', 'inference-api');
    expect(hpa?.spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: deployment?.metadata?.name,
    });
    expect(hpa?.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa?.spec.maxReplicas).toBeGreaterThan(hpa?.spec.minReplicas ?? 0);
    expect(hpa?.spec.metrics.map((m) => m.resource?.name)).toEqual(['cpu']);
    expect(deployment?.spec.template.spec.containers[0]?.resources?.requests?.cpu).toBeDefined();
    const [pdb] = ofKind<Pdb>(folders.central, 'PodDisruptionBudget');
    expect(selects(pdb?.spec.selector.matchLabels, deployment?.spec.template.metadata.labels)).toBe(
      true,
    );
    expect(pdb?.spec.minAvailable).toBeLessThan(hpa?.spec.minReplicas ?? 0);
    // one aggregator per database: one replica, never two at once
    const aggregator = named<Deployment>(folders.central, 'Deployment', 'aggregator');
    expect(aggregator?.spec.replicas).toBe(1);
    expect(aggregator?.spec.strategy?.type).toBe('Recreate');
    // the site operating point is per replica: its admin routes stay off with replicas
    const env = envNames(
      folders.central,
      deployment?.spec.template.spec.containers[0] as Container,
    );
    expect(env).not.toContain('ADMIN_TOKEN');
    expect(env).toContain('AGGREGATOR_URL');
    expect(
      envValue(deployment?.spec.template.spec.containers[0] as Container, 'AGGREGATOR_URL'),
    ).toBe(`http://aggregator:${SERVICES.aggregator.port}`);
  });

  it('lets only the aggregator reach the hospital node, and the node only the aggregator and DNS', () => {
    const policies = ofKind<NetworkPolicy>(folders.hospital, 'NetworkPolicy');
    const node = named<Deployment>(folders.hospital, 'Deployment', 'hospital-node');
    const labels = node?.spec.template.metadata.labels ?? {};
    const config = named(folders.hospital, 'ConfigMap', 'hospital-node');
    const aggregatorUrl = new URL(config?.data?.AGGREGATOR_URL ?? '');
    const aggregatorPort = Number(
      aggregatorUrl.port || (aggregatorUrl.protocol === 'https:' ? 443 : 80),
    );
    expect(ingressProblems(policies, labels, SERVICES['hospital-node'].port)).toEqual([]);
    expect(egressProblems(policies, labels, aggregatorPort)).toEqual([]);
    // a default deny for everything else in the namespace
    expect(
      policies.some(
        (p) =>
          Object.keys(p.spec.podSelector.matchLabels ?? {}).length === 0 &&
          p.spec.policyTypes?.join() === 'Ingress,Egress' &&
          !p.spec.ingress &&
          !p.spec.egress,
      ),
    ).toBe(true);
    // the Service admits the same address as the policy, and keeps it as the source
    const service = named<Service>(folders.hospital, 'Service', 'hospital-node');
    const admitted = policies.flatMap((p) =>
      (p.spec.ingress ?? []).flatMap((r) => (r.from ?? []).map((peer) => peer.ipBlock?.cidr)),
    );
    expect(service?.spec.loadBalancerSourceRanges).toEqual(admitted);
    expect(service?.spec.externalTrafficPolicy).toBe('Local');
    // the node's AGGREGATOR_URL is the aggregator's PUBLIC_URL
    const central = named<Deployment>(folders.central, 'Deployment', 'aggregator');
    expect(envValue(central?.spec.template.spec.containers[0] as Container, 'PUBLIC_URL')).toBe(
      config?.data?.AGGREGATOR_URL,
    );
    expect(aggregatorUrl.protocol).toBe('https:');
  });
});

describe('docs/deployment.md', () => {
  it('is linked from the README and says what checks these files', () => {
    expect(read('README.md').includes('(docs/deployment.md)'), 'README links it').toBe(true);
    const doc = read('docs/deployment.md');
    for (const path of [
      'test/deploy/manifests.test.ts',
      'compose.yaml',
      'deploy/k8s/hospital',
      'deploy/compose/hospital-node.yaml',
    ])
      expect(doc.includes(path), `it names ${path}`).toBe(true);
  });
});
