import { ConfigError } from '../../shared/service/config.ts';
import { listenWithGracefulShutdown } from '../../shared/service/listen.ts';
import { buildApp } from './app.ts';
import { readInferenceConfig, servesShippedModel, SHIPPED_MODEL_DIR } from './config.ts';

try {
  const config = readInferenceConfig();
  const app = await buildApp(config);
  if (servesShippedModel())
    app.log.info(
      { modelDir: SHIPPED_MODEL_DIR },
      'neither MODEL_DIR nor AGGREGATOR_URL is set: serving the shipped model',
    );
  await listenWithGracefulShutdown(app, { port: config.port, host: config.host });
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}
