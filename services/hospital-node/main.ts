import type { FastifyInstance } from 'fastify';
import { ConfigError } from '../../shared/service/config.ts';
import { listenWithGracefulShutdown } from '../../shared/service/listen.ts';
import { buildApp } from './app.ts';
import { loadHospitalConfig, type HospitalConfig } from './config.ts';

let config: HospitalConfig;
let app: FastifyInstance;
try {
  config = loadHospitalConfig();
  // buildApp reads TLS_CERT_FILE/TLS_KEY_FILE: a bad file is a ConfigError too.
  app = await buildApp(config);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(2);
}
await listenWithGracefulShutdown(app, { port: config.port, host: config.host });
