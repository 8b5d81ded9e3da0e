import { cpus, totalmem } from 'node:os';
import { measureThroughput } from '../../bench/throughput.ts';
import { ARCHITECTURE_NAMES } from '../../model/architectures.ts';
import { initBackend } from '../../tf/backend.ts';
import { choiceOpt, flag, numberOpt, parseCommandArgs } from '../options.ts';
import { printJson } from '../output.ts';

export const BENCH_HELP = `fedxray bench [--arch se-resnet18-gn] [--size 64] [--batch 8] [--steps 10] [--width 64]
    [--optimizer adam|sgd] [--backend wasm|cpu|tensorflow] [--json]
  Training and inference images/s on synthetic batches, peak RSS, tensor counts, backend.`;

export async function benchCommand(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, {
    arch: { type: 'string' },
    size: { type: 'string' },
    batch: { type: 'string' },
    steps: { type: 'string' },
    width: { type: 'string' },
    optimizer: { type: 'string' },
    backend: { type: 'string' },
    json: { type: 'boolean' },
  });
  const backend = await initBackend({
    preferred: typeof args.values.backend === 'string' ? args.values.backend : undefined,
  });
  const result = measureThroughput({
    architecture: choiceOpt(args, 'arch', ARCHITECTURE_NAMES, 'se-resnet18-gn'),
    inputSize: numberOpt(args, 'size', 64, { integer: true, min: 32, max: 512 }),
    batchSize: numberOpt(args, 'batch', 8, { integer: true, min: 1, max: 256 }),
    steps: numberOpt(args, 'steps', 10, { integer: true, min: 1, max: 10000 }),
    width: numberOpt(args, 'width', 64, { integer: true, min: 4, max: 256 }),
    optimizer: choiceOpt(args, 'optimizer', ['adam', 'sgd'] as const, 'adam'),
  });
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
  const output = { backend: backend.name, backendSource: backend.source, machine, ...result };
  if (flag(args, 'json')) {
    printJson(output);
  } else {
    process.stdout.write(
      `| backend | arch | size | batch | train img/s | train ms/img | infer img/s | peak RSS MB | tensors before/after |\n` +
        `|---|---|---|---|---|---|---|---|---|\n` +
        `| ${backend.name} | ${result.architecture} | ${result.inputSize} | ${result.batchSize} | ${result.trainImagesPerSecond.toFixed(2)} | ${result.trainMsPerImage.toFixed(1)} | ${result.inferImagesPerSecond.toFixed(2)} | ${result.peakRssMB.toFixed(0)} | ${result.tensorsBefore}/${result.tensorsAfter} |\n`,
    );
  }
  return 0;
}
