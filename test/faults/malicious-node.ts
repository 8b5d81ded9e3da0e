// A hospital node that follows the protocol but sends a poisoned update: a process of its own
// for the fault-injection tests. POISON=scale adds 1 to every weight of the model it was sent
// (an update about 1,000x the size of an honest one); POISON=nan puts a NaN into every tensor.
import { startFakeHospital } from '../aggregator/fake-hospital.ts';
import type { NamedWeights } from '../../shared/weights/index.ts';

const env = process.env;
const aggregatorUrl = env.AGGREGATOR_URL ?? '';
const poison = env.POISON ?? 'scale';
const poisoned = (global: NamedWeights[]): NamedWeights[] =>
  global.map((w) => {
    const data = poison === 'nan' ? Float32Array.from(w.data) : w.data.map((v) => v + 1);
    if (poison === 'nan') data[0] = Number.NaN;
    return { ...w, data };
  });

const fake = await startFakeHospital(
  env.HOSPITAL_ID ?? 'malicious',
  () => aggregatorUrl,
  { makeUpdate: poisoned, numSamples: Number(env.NUM_SAMPLES ?? 40) },
  Number(env.PORT ?? 0),
);
fake.token = env.HOSPITAL_TOKEN ?? '';
process.stdout.write(`malicious node (${poison}) at ${fake.url}\n`);
