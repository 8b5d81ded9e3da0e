import multipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { Registry } from 'prom-client';
import type { Database } from '../../shared/db/index.ts';
import { generateToken } from '../../shared/service/auth.ts';
import { createServiceApp } from '../../shared/service/create-app.ts';
import { metricsTokenSource } from '../../shared/service/metrics-config.ts';
import { metricsPlugin } from '../../shared/service/metrics-plugin.ts';
import { loadTlsCredentials } from '../../shared/service/tls.ts';
import { SOFTWARE_VERSION } from '../../shared/service/version.ts';
import { registerInfoRoute } from '../../shared/service/info-route.ts';
import { initBackend } from '../../shared/tf/backend.ts';
import type { AggregatorConfig } from './config.ts';
import { AdminTokenFile, fixedAdminToken, type AdminTokenSource } from './lib/admin-token.ts';
import { AggregatorMetrics } from './lib/aggregator-metrics.ts';
import { Authenticator } from './lib/auth.ts';
import { DASHBOARD_DIR, HTM_PREACT_DIR, VENDOR_FILES } from './lib/dashboard-assets.ts';
import type { EventStream } from './lib/sse.ts';
import { formatValidationErrors } from './lib/validation.ts';
import type { AggregatorContext } from './plugins/context.ts';
import { useDatabase } from './plugins/database.ts';
import { createModelStore } from './plugins/model-store.ts';
import { AggregatorRole, registerRole } from './plugins/role.ts';
import { createCoordination, type CoordinatorOptions } from './plugins/run-coordinator.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { eventRoutes } from './routes/events.ts';
import { hospitalRoutes } from './routes/hospitals.ts';
import { modelRoutes } from './routes/models.ts';
import { nodeWorkRoutes } from './routes/node-work.ts';
import { readerRoutes } from './routes/readers.ts';
import { roundRoutes } from './routes/rounds.ts';
import { updateRoutes } from './routes/updates.ts';

/** An update of the full se-resnet18-gn (11.3 M float32 weights) is about 45 MB. */
export const MAX_UPDATE_BYTES = 64 * 1024 * 1024;

export interface AggregatorDeps extends CoordinatorOptions {
  /** false in tests; default: structured logs with secrets redacted. */
  logger?: FastifyServerOptions['logger'];
  /** An open database to use instead of the configured one; the app leaves it open. */
  database?: Database;
  /** Milliseconds between keep-alive comments on event streams (default 15 000). */
  keepAliveMs?: number;
  // `now` (HospitalClientOptions): the milliseconds clock of token expiry (hospital tokens'
  // grace, ADMIN_TOKEN_FILE's checks and grace); tests move it. Default Date.now.
}

/**
 * The aggregator: registers hospitals, runs federated rounds (FedAvg) over their nodes,
 * stores the models and serves them. See docs/aggregator.md.
 */
export async function buildApp(
  config: AggregatorConfig,
  deps: AggregatorDeps = {},
): Promise<FastifyInstance> {
  // HTTPS when TLS_CERT_FILE/TLS_KEY_FILE are set: a bad file is a ConfigError before anything
  // else starts.
  const https = await loadTlsCredentials(config);
  // External plugins: request ids, redacted logs, OpenAPI + Swagger UI, JSON errors, /health.
  const app = await createServiceApp({
    name: 'fedxray-aggregator',
    version: SOFTWARE_VERSION,
    description:
      'Coordinates federated training over hospital nodes (FedAvg), stores model versions and ' +
      'serves the production model.',
    logger: deps.logger,
    bearerAuth: true,
    https,
    requestTimeoutMs: config.requestTimeoutMs,
  });
  app.setSchemaErrorFormatter(formatValidationErrors);
  await app.register(multipart, {
    limits: { fileSize: MAX_UPDATE_BYTES, files: 1, fields: 8, parts: 10, fieldSize: 64 * 1024 },
  });
  // The web dashboard (GET /, routes/dashboard.ts): its files, and htm's ESM bundle of preact
  // straight from node_modules (no build step, nothing fetched from the internet).
  await app.register(fastifyStatic, { root: DASHBOARD_DIR, prefix: '/dashboard/', index: false });
  await app.register(fastifyStatic, {
    root: HTM_PREACT_DIR,
    prefix: '/dashboard/vendor/',
    decorateReply: false,
    allowedPath: (pathName) => VENDOR_FILES.has(pathName),
  });

  // Closing: the round loops stop first (preClose: the state stays in the database for the next
  // start), then the server drains, then the database closes.
  const stoppers: (() => Promise<void>)[] = [];
  const closers: (() => Promise<void>)[] = [];
  let sweeper: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    // Connections still busy when close() starts would stay open after their answer until
    // their keep-alive timeout (72 s): close each once it is idle.
    sweeper = setInterval(() => app.server.closeIdleConnections(), 50).unref();
    for (const stop of stoppers) await stop();
  });
  app.addHook('onClose', async () => {
    clearInterval(sweeper);
    for (const close of closers.reverse()) await close();
  });
  try {
    // ADMIN_TOKEN_FILE is read before anything else starts: a missing or bad file is a
    // ConfigError naming the variable.
    const now = deps.now ?? Date.now;
    const admin = adminTokenSource(app, config, now);
    // METRICS_TOKEN_FILE likewise.
    const metricsToken = metricsTokenSource(config, {
      onProblem: (message) => app.log.error(message),
      onChange: () => app.log.info('METRICS_TOKEN_FILE re-read: a new token is in force'),
      now,
    });
    // GET /metrics (docs/metrics.md): one registry per app, so tests can build many.
    const registry = new Registry();
    await app.register(metricsPlugin, {
      registry,
      service: 'fedxray-aggregator',
      version: SOFTWARE_VERSION,
      token: metricsToken,
    });

    await initBackend({ log: (line) => app.log.info(line) });

    // The app's own plugins: database, model store, round loop.
    const { db, close, takeover } = await useDatabase(app, config, deps.database);
    closers.push(close);
    const store = await createModelStore(config);
    const role = new AggregatorRole(takeover === null);
    const metrics = new AggregatorMetrics(registry, db.prisma, app.log);
    const coordination = createCoordination(
      app,
      db.prisma,
      store,
      {
        ...deps,
        requestTimeoutMs:
          deps.requestTimeoutMs ??
          (config.nodeRequestTimeoutSeconds === undefined
            ? undefined
            : config.nodeRequestTimeoutSeconds * 1000),
        maxMissedPolls: deps.maxMissedPolls ?? config.nodeMissedPolls,
      },
      role,
      metrics,
    );
    stoppers.push(() => coordination.coordinator.close());
    stoppers.push(async () => coordination.tunnel.close());
    takeover
      ?.then(() => {
        role.activate();
        app.log.warn('standby: the instance lock is taken; this aggregator is now the active one');
        return coordination.resumeWhenReady();
      })
      .catch(() => {});
    registerRole(app, role);

    const ctx: AggregatorContext = {
      prisma: db.prisma,
      store,
      auth: new Authenticator(db.prisma, admin, now),
      ...coordination,
      streams: new Set<EventStream>(),
      keepAliveMs: deps.keepAliveMs ?? 15_000,
      metrics,
      now,
    };

    registerInfoRoute(app, 'aggregator', () => ({ database: db.kind }));
    await app.register(hospitalRoutes, { ctx });
    await app.register(readerRoutes, { ctx });
    await app.register(roundRoutes, { ctx });
    await app.register(eventRoutes, { ctx });
    await app.register(updateRoutes, { ctx });
    await app.register(nodeWorkRoutes, { ctx });
    await app.register(modelRoutes, { ctx });
    await app.register(dashboardRoutes, { inferenceUrl: config.inferenceUrl });
    await app.ready();
  } catch (error) {
    await app.close();
    throw error;
  }
  return app;
}

/**
 * The admin token: ADMIN_TOKEN, or ADMIN_TOKEN_FILE (re-read when it changes), or in local
 * mode a random token, logged once.
 */
function adminTokenSource(
  app: FastifyInstance,
  config: AggregatorConfig,
  now: () => number,
): AdminTokenSource {
  if (config.adminTokenFile !== undefined) {
    const file = new AdminTokenFile({
      path: config.adminTokenFile,
      graceSeconds: config.adminTokenGraceSeconds ?? 0,
      onProblem: (message) => app.log.error(message),
      onChange: (message, details) => app.log.info(details, message),
      now,
    });
    app.log.info(
      { adminTokenFile: config.adminTokenFile, graceSeconds: config.adminTokenGraceSeconds ?? 0 },
      'admin token from ADMIN_TOKEN_FILE (re-read when it changes)',
    );
    return file;
  }
  if (config.adminToken !== undefined) return fixedAdminToken(config.adminToken);
  const token = generateToken();
  app.log.warn(
    `local mode: ADMIN_TOKEN is not set (nor ADMIN_TOKEN_FILE); the admin token of this process is ${token}`,
  );
  return fixedAdminToken(token);
}
