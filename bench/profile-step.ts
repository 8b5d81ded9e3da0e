/**
 * Where the time of one training step goes: tf.profile of an se-resnet18-gn step on the
 * chosen backend, kernels grouped by name, slowest first. Prints JSON, then a Markdown table.
 *
 *   npx tsx bench/profile-step.ts [--size 64] [--batch 8] [--top 15]
 */
import { parseArgs } from 'node:util';
import { buildModel } from '../shared/model/architectures.ts';
import { initBackend } from '../shared/tf/backend.ts';
import { tf } from '../shared/tf/tf.ts';
import { weightedCrossEntropy } from '../shared/training/loss.ts';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '64' },
    batch: { type: 'string', default: '8' },
    top: { type: 'string', default: '15' },
  },
});
const size = Number(values.size);
const batch = Number(values.batch);
process.env.FEDXRAY_QUIET = '1';
const backend = await initBackend();
const model = buildModel('se-resnet18-gn', { inputSize: size });
const optimizer = tf.train.adam(1e-3);
const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
const xs = tf.randomNormal([batch, size, size, 1], 0, 1, 'float32', 1);
const ys = tf.tensor1d(
  Array.from({ length: batch }, (_, i) => i % 2),
  'int32',
);
const step = (): void => {
  tf.tidy(() => {
    optimizer
      .minimize(
        () =>
          weightedCrossEntropy(model.apply(xs, { training: true }) as tf.Tensor2D, ys, [1, 1], 0),
        true,
        vars,
      )
      ?.dataSync();
  });
};
step(); // warm-up
const started = performance.now();
const profile = await tf.profile(step);
const wallMs = performance.now() - started;
const byKernel = new Map<string, { ms: number; calls: number }>();
// Entries named `<op>__op` wrap the kernels they call: counting them too would count time twice.
for (const k of profile.kernels.filter((k) => !k.name.endsWith('__op'))) {
  const entry = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
  entry.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
  entry.calls++;
  byKernel.set(k.name, entry);
}
const rows = [...byKernel.entries()]
  .map(([name, v]) => ({ name, ...v }))
  .sort((a, b) => b.ms - a.ms);
const total = rows.reduce((s, r) => s + r.ms, 0);
process.stdout.write(
  JSON.stringify(
    {
      backend: backend.name,
      size,
      batch,
      wallMs,
      kernelMs: total,
      kernels: profile.kernels.length,
      top: rows.slice(0, Number(values.top)),
    },
    null,
    2,
  ) + '\n\n',
);
process.stdout.write(
  `Step ${wallMs.toFixed(0)} ms wall (profiled), ${total.toFixed(0)} ms in ${profile.kernels.length} kernel calls\n\n`,
);
process.stdout.write('| kernel | calls | ms | share |\n|---|---:|---:|---:|\n');
for (const r of rows.slice(0, Number(values.top))) {
  process.stdout.write(
    `| ${r.name} | ${r.calls} | ${r.ms.toFixed(1)} | ${((100 * r.ms) / total).toFixed(1)}% |\n`,
  );
}
