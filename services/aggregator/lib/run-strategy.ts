import { DpFedAvg } from '../../../shared/federated/dp-fedavg.ts';
import { createStrategy } from '../../../shared/federated/strategies.ts';
import type { Strategy } from '../../../shared/federated/strategy.ts';
import { cryptoGaussian } from '../../../shared/privacy/gaussian.ts';
import type { RunSettings } from '../schemas/runs.ts';

/**
 * The run's strategy, wrapped in the update-norm screen its maxUpdateNormRatio asks for; a
 * differentially private run's instead in DP-FedAvg, with node:crypto noise (the run's seed is
 * public, so seeded noise could be recomputed and subtracted), and no screen. `clipNorm`: the
 * round's C under adaptive clipping (roundClipNorm).
 */
export function runStrategy(settings: RunSettings, clipNorm?: number): Strategy {
  const spec = { ...settings.strategy, fraction: settings.clientFraction };
  const dp = settings.differentialPrivacy;
  if (dp)
    return new DpFedAvg(createStrategy(spec), {
      clipNorm: clipNorm ?? dp.clipNorm,
      noiseMultiplier: dp.noiseMultiplier,
      noise: cryptoGaussian(),
      ...(dp.adaptiveClipping && { adaptive: dp.adaptiveClipping }),
    });
  return createStrategy(spec, { maxUpdateNormRatio: settings.maxUpdateNormRatio });
}
