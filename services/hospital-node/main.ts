import { ConfigError } from '../../shared/service/config.ts';
import { listenWithGracefulShutdown } from '../../shared/service/listen.ts';
import { buildApp } from './app.ts';
import { loadHospitalConfig, type HospitalConfig } from './config.ts';

let config: HospitalConfig;
try {
  config = loadHospitalConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(2);
}
const app = await buildApp(config);
await listenWithGracefulShutdown(app, { port: config.port, host: config.host });
