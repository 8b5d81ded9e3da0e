import { cpus, loadavg, totalmem } from 'node:os';
import { measureInference, type RuntimeChoice } from '../../bench/inference.ts';
import { measureThroughput } from '../../bench/throughput.ts';
import { ARCHITECTURE_NAMES } from '../../model/architectures.ts';
import { initBackend } from '../../tf/backend.ts';
import { choiceOpt, flag, numberOpt, parseCommandArgs } from '../options.ts';
import { printJson } from '../output.ts';

export const BENCH_HELP = `fedxray bench [--arch se-resnet18-gn] [--size 64] [--batch 8] [--steps 10] [--width 64]
    [--optimizer adam|sgd] [--backend wasm|cpu|tensorflow] [--runtime auto|onnxruntime|tfjs]
    [--threads N] [--infer-only] [--json]
  Training (tfjs) and inference images/s on synthetic batches, peak RSS, tensor counts, backend.
  Inference runs on what the inference API would use (inferRuntime): onnxruntime-node with
  --threads (default ONNX_THREADS, else 1) when it is installed and --runtime (default
  INFER_RUNTIME, else auto) allows it, else tfjs; tfjsInferMsPerImage is tfjs' own figure.`;

const RUNTIMES = ['auto', 'onnxruntime', 'tfjs'] as const;

export async function benchCommand(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, {
    arch: { type: 'string' },
    size: { type: 'string' },
    batch: { type: 'string' },
    steps: { type: 'string' },
    width: { type: 'string' },
    optimizer: { type: 'string' },
    backend: { type: 'string' },
    runtime: { type: 'string' },
    threads: { type: 'string' },
    'infer-only': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const backend = await initBackend({
    preferred: typeof args.values.backend === 'string' ? args.values.backend : undefined,
  });
  const envRuntime = process.env.INFER_RUNTIME;
  const runtime: RuntimeChoice = choiceOpt(
    args,
    'runtime',
    RUNTIMES,
    (RUNTIMES as readonly string[]).includes(envRuntime ?? '')
      ? (envRuntime as RuntimeChoice)
      : 'auto',
  );
  const common = {
    architecture: choiceOpt(args, 'arch', ARCHITECTURE_NAMES, 'se-resnet18-gn'),
    inputSize: numberOpt(args, 'size', 64, { integer: true, min: 32, max: 512 }),
    batchSize: numberOpt(args, 'batch', 8, { integer: true, min: 1, max: 256 }),
    steps: numberOpt(args, 'steps', 10, { integer: true, min: 1, max: 10000 }),
    width: numberOpt(args, 'width', 64, { integer: true, min: 4, max: 256 }),
  };
  const threads = numberOpt(args, 'threads', Number(process.env.ONNX_THREADS || 1), {
    integer: true,
    min: 1,
    max: 64,
  });
  const training = flag(args, 'infer-only')
    ? undefined
    : measureThroughput({
        ...common,
        optimizer: choiceOpt(args, 'optimizer', ['adam', 'sgd'] as const, 'adam'),
      });
  const inference = await measureInference({ ...common, runtime, threads });
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadAverage1m: Math.round(loadavg()[0] * 100) / 100,
  };
  const output = {
    backend: backend.name,
    backendSource: backend.source,
    machine,
    ...common,
    ...training,
    ...(training ? { tfjsInferMsPerImage: training.inferMsPerImage } : {}),
    ...inference,
  };
  if (flag(args, 'json')) {
    printJson(output);
  } else {
    const train = training
      ? `${training.trainImagesPerSecond.toFixed(2)} | ${training.trainMsPerImage.toFixed(1)}`
      : '– | –';
    process.stdout.write(
      `| backend | infer runtime | arch | size | batch | train img/s | train ms/img | infer img/s | infer ms/img | peak RSS MB |\n` +
        `|---|---|---|---|---|---|---|---|---|---|\n` +
        `| ${backend.name} | ${inference.inferRuntime}${inference.onnxThreads ? ` (${inference.onnxThreads} thr)` : ''} | ${common.architecture} | ${common.inputSize} | ${common.batchSize} | ${train} | ${inference.inferImagesPerSecond.toFixed(2)} | ${inference.inferMsPerImage.toFixed(2)} | ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} |\n`,
    );
  }
  return 0;
}
