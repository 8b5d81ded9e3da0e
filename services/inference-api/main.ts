import { ConfigError } from '../../shared/service/config.ts';
import { listenWithGracefulShutdown } from '../../shared/service/listen.ts';
import { buildApp } from './app.ts';
import { readInferenceConfig } from './config.ts';

try {
  const config = readInferenceConfig();
  const app = await buildApp(config);
  await listenWithGracefulShutdown(app, { port: config.port, host: config.host });
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}
