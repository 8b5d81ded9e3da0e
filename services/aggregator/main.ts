import type { FastifyInstance } from 'fastify';
import { ConfigError } from '../../shared/service/config.ts';
import { listenWithGracefulShutdown } from '../../shared/service/listen.ts';
import { buildApp } from './app.ts';
import { loadAggregatorConfig, type AggregatorConfig } from './config.ts';
import { InstanceLockError } from './lib/instance-lock.ts';

let config: AggregatorConfig;
let app: FastifyInstance;
try {
  config = loadAggregatorConfig();
  // buildApp reads TLS_CERT_FILE/TLS_KEY_FILE: a bad file is a ConfigError too. Another
  // aggregator on the same PostgreSQL database and schema: InstanceLockError, naming it.
  app = await buildApp(config);
} catch (error) {
  if (!(error instanceof ConfigError || error instanceof InstanceLockError)) throw error;
  console.error(error.message);
  process.exit(2);
}
const address = await listenWithGracefulShutdown(app, { port: config.port, host: config.host });
app.log.info(
  { address, publicUrl: config.publicUrl ?? address },
  `hospital nodes and the inference-api reach this aggregator at AGGREGATOR_URL=${config.publicUrl ?? address}`,
);
