/**
 * `npm start`: the whole platform on one machine. Starts the aggregator (embedded PGlite unless
 * DATABASE_URL is set), registers three hospitals, gives each its own patient-level partition
 * of DATA_DIR (default: the sample shipped in data/sample), starts the three hospital nodes and
 * the inference API, and prints where everything is. A service that exits unexpectedly is
 * started again (with backoff) while the others keep running; Ctrl-C stops them all.
 *
 * The inference API reads models with a read-only reader token (POST /readers, its
 * AGGREGATOR_TOKEN), never the aggregator's admin token; its own admin routes have a token of
 * their own (its ADMIN_TOKEN). Every token is kept in STATE_DIR/local.json and used again at
 * the next start.
 *
 * Environment: DATA_DIR, STATE_DIR (default .state), ADMIN_TOKEN (default: generated once and
 * kept in STATE_DIR/local.json), DATABASE_URL, HOSPITALS (default 3), PARTITION (iid|dirichlet),
 * AGGREGATOR_PORT (3000), HOSPITAL_BASE_PORT (3101), INFERENCE_PORT (3200), MODEL_DIR.
 * Everything is plain HTTP on 127.0.0.1: TLS_CERT_FILE/TLS_KEY_FILE are not passed on (for
 * HTTPS, start each service on its own; docs/tls.md).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { loadDataset, partitionByPatient, SAMPLE_DATA_DIR } from '../shared/data/index.ts';
import { generateToken } from '../shared/service/auth.ts';
import { ConfigError, loadConfig } from '../shared/service/config.ts';
import { AggregatorAdmin, type Issued } from './aggregator-admin.ts';

const root = resolve(new URL('..', import.meta.url).pathname);
const env = process.env;
const stateDir = resolve(env.STATE_DIR ?? join(root, '.state'));
const dataDir = resolve(env.DATA_DIR ?? SAMPLE_DATA_DIR);
const Port = (port: number) => Type.Integer({ minimum: 1, maximum: 65535, default: port });
const StartConfigSchema = Type.Object({
  hospitals: Type.Integer({ minimum: 1, default: 3 }),
  aggregatorPort: Port(3000),
  hospitalBasePort: Port(3101),
  inferencePort: Port(3200),
});
const START_ENV = {
  hospitals: 'HOSPITALS',
  aggregatorPort: 'AGGREGATOR_PORT',
  hospitalBasePort: 'HOSPITAL_BASE_PORT',
  inferencePort: 'INFERENCE_PORT',
};
let startConfig: Static<typeof StartConfigSchema>;
try {
  startConfig = loadConfig(StartConfigSchema, START_ENV, env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(2);
}
const { hospitals, aggregatorPort, hospitalBasePort, inferencePort } = startConfig;
const aggregatorUrl = `http://127.0.0.1:${aggregatorPort}`;

interface LocalState {
  /** The aggregator's ADMIN_TOKEN. */
  adminToken: string;
  hospitals: Record<string, Issued>;
  /** The inference API's reader token on the aggregator (its AGGREGATOR_TOKEN). */
  reader?: Issued;
  /** The inference API's own ADMIN_TOKEN (its operating point routes). */
  inferenceAdminToken?: string;
}

function log(message: string): void {
  process.stdout.write(`[start] ${message}\n`);
}

async function readState(): Promise<LocalState> {
  const file = join(stateDir, 'local.json');
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as LocalState;
  // An empty ADMIN_TOKEN counts as unset, as the services read it.
  return { adminToken: env.ADMIN_TOKEN || generateToken(), hospitals: {} };
}

async function writeState(state: LocalState): Promise<void> {
  const file = join(stateDir, 'local.json');
  await writeFile(file, JSON.stringify(state, null, 2) + '\n');
  await chmod(file, 0o600);
}

/** Restart pauses: 1 s doubling to 30 s; a service that ran a minute starts again at 1 s. */
const RESTART_BASE_MS = 1000;
const RESTART_MAX_MS = 30_000;
const HEALTHY_RUN_MS = 60_000;

/** The running process of each service, replaced when the supervisor restarts one. */
const running = new Map<string, ChildProcess>();

function pipeLines(child: ChildProcess, name: string): void {
  const prefix = (line: string): string => `[${name}] ${line}\n`;
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) process.stdout.write(prefix(line));
    });
  }
}

/**
 * Starts a service and keeps it running: when it exits unexpectedly it is started again after
 * a pause that doubles with each quick failure, and a line says so; the other services keep
 * running. Written here rather than with a process manager (pm2 and the like run as daemons of
 * their own, with their own CLI): one launcher process that Ctrl-C stops is what npm start is.
 */
function startService(name: string, entry: string, extraEnv: Record<string, string>): void {
  let failures = 0;
  const launch = (): void => {
    const startedAt = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, entry)], {
      cwd: root,
      // An empty variable counts as unset: the children serve plain HTTP whatever the shell
      // says, and use the tokens of .state/local.json (given as ADMIN_TOKEN, AGGREGATOR_TOKEN).
      env: {
        ...env,
        TLS_CERT_FILE: '',
        TLS_KEY_FILE: '',
        ADMIN_TOKEN_FILE: '',
        ADMIN_TOKEN_GRACE_SECONDS: '',
        AGGREGATOR_TOKEN_FILE: '',
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.set(name, child);
    log(`${name} started (pid ${child.pid})`);
    pipeLines(child, name);
    child.on('exit', (code, signal) => {
      if (stopping) return;
      failures = Date.now() - startedAt >= HEALTHY_RUN_MS ? 1 : failures + 1;
      const pause = Math.min(RESTART_BASE_MS * 2 ** (failures - 1), RESTART_MAX_MS);
      log(
        `${name} exited (${signal ?? code}); restarting it in ${pause / 1000} s (restart ${failures}); the other services keep running`,
      );
      setTimeout(() => {
        if (!stopping) launch();
      }, pause).unref();
    });
  };
  launch();
}

async function waitForHealth(url: string, name: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${name} did not become healthy at ${url} within ${timeoutMs / 1000} s`);
}

let stopping = false;
async function stopAll(code: number): Promise<void> {
  stopping = true;
  const children = [...running.values()].filter((c) => c.exitCode === null && !c.signalCode);
  for (const child of children) child.kill('SIGTERM');
  await Promise.race([
    Promise.all(children.map((c) => new Promise((r) => c.once('exit', r)))),
    new Promise((r) => setTimeout(r, 5000)),
  ]);
  for (const child of children)
    if (child.exitCode === null && !child.signalCode) child.kill('SIGKILL');
  process.exit(code);
}
process.once('SIGINT', () => void stopAll(0));
process.once('SIGTERM', () => void stopAll(0));

async function main(): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  const state = await readState();
  state.inferenceAdminToken ??= generateToken();
  await writeState(state);

  log(`data: ${dataDir}`);
  const records = await loadDataset(dataDir);
  const partitions = partitionByPatient(records, {
    clients: hospitals,
    scheme: env.PARTITION === 'dirichlet' ? 'dirichlet' : 'iid',
    seed: 42,
  });

  startService('aggregator', 'services/aggregator/main.ts', {
    PORT: String(aggregatorPort),
    STATE_DIR: join(stateDir, 'aggregator'),
    ADMIN_TOKEN: state.adminToken,
    PUBLIC_URL: aggregatorUrl,
    // The dashboard's Diagnose page posts X-rays there (the inference API allows its origin).
    INFERENCE_URL: `http://127.0.0.1:${inferencePort}`,
  });
  await waitForHealth(aggregatorUrl, 'aggregator');
  const admin = new AggregatorAdmin(aggregatorUrl, state.adminToken, log);

  for (let i = 0; i < hospitals; i++) {
    const name = `hospital-${i + 1}`;
    const port = hospitalBasePort + i;
    const baseUrl = `http://127.0.0.1:${port}`;
    const registration = await admin.registerHospital(name, baseUrl, state.hospitals[name]);
    state.hospitals[name] = registration;
    await writeState(state);
    const hospitalData = join(stateDir, 'hospitals', name, 'data');
    await mkdir(hospitalData, { recursive: true });
    const rows = partitions[i].map(
      (r) => `${r.path},${r.label === 1 ? 'PNEUMONIA' : 'NORMAL'},${r.patientId},train,`,
    );
    await writeFile(
      join(hospitalData, 'manifest.csv'),
      ['path,label,patient_id,source_split,sha256', ...rows].join('\n') + '\n',
    );
    startService(name, 'services/hospital-node/main.ts', {
      HOSPITAL_ID: name,
      DATA_DIR: hospitalData,
      AGGREGATOR_URL: aggregatorUrl,
      HOSPITAL_TOKEN: registration.token,
      PORT: String(port),
      STATE_DIR: join(stateDir, 'hospitals', name),
    });
    await waitForHealth(baseUrl, name);
  }

  state.reader = await admin.readerToken(state.reader);
  await writeState(state);
  const inferenceEnv: Record<string, string> = {
    PORT: String(inferencePort),
    AGGREGATOR_URL: aggregatorUrl,
    // Read-only on the aggregator: models and weights, nothing else.
    AGGREGATOR_TOKEN: state.reader.token,
    MODEL_POLL_SECONDS: '10',
    // Its own token for the site's operating point (fedxray accept --set), not the aggregator's.
    ADMIN_TOKEN: state.inferenceAdminToken,
    STATE_DIR: join(stateDir, 'inference-api'),
    // The aggregator's web dashboard calls POST /diagnose from the browser, by either name.
    CORS_ORIGINS: `${aggregatorUrl},http://localhost:${aggregatorPort}`,
  };
  const modelDir = env.MODEL_DIR ?? join(root, 'models', 'fl-se-resnet18-gn');
  if (existsSync(join(modelDir, 'model.json'))) inferenceEnv.MODEL_DIR = modelDir;
  startService('inference-api', 'services/inference-api/main.ts', inferenceEnv);
  await waitForHealth(`http://127.0.0.1:${inferencePort}`, 'inference-api');

  process.stdout.write(
    [
      '',
      'fedxray is running:',
      `  dashboard      ${aggregatorUrl}/`,
      `  aggregator     ${aggregatorUrl}          Swagger UI: ${aggregatorUrl}/docs`,
      ...Array.from({ length: hospitals }, (_, i) => {
        const url = `http://127.0.0.1:${hospitalBasePort + i}`;
        return `  hospital-${i + 1}     ${url}          Swagger UI: ${url}/docs   (${partitions[i].length} images)`;
      }),
      `  inference-api  http://127.0.0.1:${inferencePort}          Swagger UI: http://127.0.0.1:${inferencePort}/docs`,
      '',
      `  admin token: ${state.adminToken}   (kept in ${join(stateDir, 'local.json')})`,
      `  inference API admin token: ${state.inferenceAdminToken}   (fedxray accept --set)`,
      '',
      'Start federated training:',
      `  curl -X POST ${aggregatorUrl}/rounds -H "authorization: Bearer ${state.adminToken}" -H "content-type: application/json" -d '{"rounds": 2}'`,
      'Diagnose an X-ray:',
      `  curl -F image=@data/sample/PNEUMONIA/person1033_bacteria_2966.jpg http://127.0.0.1:${inferencePort}/diagnose`,
      '',
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? error.message : String(error)}`);
  void stopAll(1);
});
