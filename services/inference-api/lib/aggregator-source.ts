import { decodeWeights, unpackWeights } from '../../../shared/weights/index.ts';
import type { AggregatorClient } from './aggregator-client.ts';
import { instantiateModel, widthFromWeights, type LoadedModel } from './loaded-model.ts';
import type { ProductionModel } from './production-model.ts';

/** The paper's width, when neither the aggregator nor the weights say otherwise. */
const DEFAULT_WIDTH = 64;

/** Downloads a model's packed weights, verifies them against its sha256 and builds it. */
export async function loadAggregatorModel(
  client: AggregatorClient,
  production: ProductionModel,
): Promise<LoadedModel> {
  const { manifest, blob } = unpackWeights(await client.weights(production.id));
  if (manifest.sha256 !== production.sha256) {
    throw new Error(
      `weights of model ${production.id} have sha256 ${manifest.sha256}, but the aggregator announced ${production.sha256}`,
    );
  }
  const weights = decodeWeights(manifest, blob);
  const width = production.width ?? widthFromWeights(weights) ?? DEFAULT_WIDTH;
  const { architecture, inputSize } = production;
  return instantiateModel({ architecture, inputSize, width }, [weights], {
    id: production.id,
    version: production.version,
    round: production.round,
    sha256: production.sha256,
    architecture,
    width,
    inputSize,
    threshold: production.threshold,
    thresholdRule: production.thresholdRule,
    ...(production.calibration ? { calibration: production.calibration } : {}),
    preprocessing: production.preprocessing,
    loadedAt: new Date().toISOString(),
    source: 'aggregator',
  });
}
