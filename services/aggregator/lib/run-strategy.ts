import { createStrategy } from '../../../shared/federated/strategies.ts';
import type { Strategy } from '../../../shared/federated/strategy.ts';
import type { RunSettings } from '../schemas/runs.ts';

/** The run's strategy, wrapped in the update-norm screen its maxUpdateNormRatio asks for. */
export function runStrategy(settings: RunSettings): Strategy {
  return createStrategy(
    { ...settings.strategy, fraction: settings.clientFraction },
    { maxUpdateNormRatio: settings.maxUpdateNormRatio },
  );
}
