import { availableParallelism } from 'node:os';
import { usesBatchNorm } from '../../model/architectures.ts';
import { runCentralised } from '../../pipeline/centralised.ts';
import { GradientPeers } from '../../training/data-parallel.ts';
import { toHistoryPoint } from '../../report/history.ts';
import { createProgress } from '../progress.ts';
import { numberOpt, parseCommandArgs, flag, UsageError } from '../options.ts';
import { TRAINING_OPTIONS, readCommonTraining } from '../training-options.ts';
import {
  runTrainingCommand,
  type TrainingRunContext,
  type TrainingRunOutcome,
} from '../training-run.ts';
import { info } from '../output.ts';

export const TRAIN_HELP = `fedxray train --data DIR --out DIR [--epochs 10] [options]
  Centralised training on pooled data (the paper's non-federated baselines).
  Options: --arch se-resnet18-gn|se-resnet18-bn|resnet18|alexnet|vgg16  --size 64  --batch 16
    --lr 0.001 --optimizer adam|sgd --momentum 0.9 --weight-decay 1e-4 --schedule cosine|step|constant
    --warmup-epochs 0 --class-balance weights|none --label-smoothing 0.05
    --augment light|strong (default light; docs/engine.md) --no-augment
    --max-steps-per-epoch K (each epoch stops after K steps; default: whole epochs)
    --normalization per-image|unit --equalize --val-data DIR | --val-fraction 0.1
    --threshold-rule fixed:0.5|youden|youden-shrunk:0.5|min-recall:0.95 --float16 --seed 42
    --width 64 --limit N --backend wasm|cpu|tensorflow --json
    --threads N   data-parallel threads: each batch is split between them and their gradients
                  summed (default: one per core on wasm/cpu, 1 on tensorflow; always 1 for
                  BatchNorm models, whose statistics need the whole batch)`;

export async function trainCommand(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, {
    ...TRAINING_OPTIONS,
    epochs: { type: 'string' },
    threads: { type: 'string' },
  });
  const epochs = numberOpt(args, 'epochs', 10, { integer: true, min: 1, max: 1000 });
  const common = readCommonTraining(args, epochs);
  const backend = typeof args.values.backend === 'string' ? args.values.backend : undefined;
  const batchNorm = usesBatchNorm(common.architecture);
  const threadsAsked =
    args.values.threads === undefined
      ? undefined
      : numberOpt(args, 'threads', 1, { integer: true, min: 1, max: 64 });
  if (batchNorm && threadsAsked !== undefined && threadsAsked > 1)
    throw new UsageError(
      `--threads ${threadsAsked}: ${common.architecture} has BatchNorm, whose statistics need the whole batch; it trains on one thread`,
    );
  return runTrainingCommand(common, backend, flag(args, 'json'), async (ctx) => {
    const threads =
      threadsAsked ??
      (batchNorm || ctx.backend.name === 'tensorflow'
        ? 1
        : Math.min(availableParallelism(), common.settings.batchSize));
    const peers = await GradientPeers.forThreads(
      {
        architecture: common.architecture,
        inputSize: common.preprocessing.inputSize,
        width: common.width,
        backend: ctx.backend.name,
      },
      threads,
    );
    if (peers) info(`data-parallel training on ${threads} threads`);
    try {
      return await trainEpochs(ctx, epochs, threads, peers);
    } finally {
      await peers?.close();
    }
  });
}

async function trainEpochs(
  { common, data, model, cache }: TrainingRunContext,
  epochs: number,
  threads: number,
  peers: GradientPeers | undefined,
): Promise<TrainingRunOutcome> {
  const progress = createProgress({
    label: 'train',
    total: epochs * Math.ceil(data.train.length / common.settings.batchSize),
  });
  let done = 0;
  const reports = await runCentralised(
    model,
    data.train,
    data.val,
    common.settings,
    common.preprocessing,
    {
      cache,
      peers,
      onProgress: (p) => {
        done++;
        progress.update(
          done,
          `epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(3)} acc ${p.accuracy.toFixed(3)} ${p.imagesPerSecond.toFixed(1)} img/s`,
        );
      },
      onEpochEnd: (r) => {
        info(
          `epoch ${r.epoch}: train loss ${r.trainLoss.toFixed(4)} acc ${r.trainAccuracy.toFixed(4)}` +
            (r.val
              ? `, val loss ${r.val.loss.toFixed(4)} acc ${r.val.accuracy.toFixed(4)} auc ${r.val.auc.toFixed(4)}`
              : '') +
            ` (${r.seconds.toFixed(1)} s)`,
        );
      },
    },
  );
  progress.done();
  return {
    stepLabel: 'epoch',
    history: reports.map((r) => toHistoryPoint(r.epoch, r)),
    training: {
      kind: 'centralised',
      settings: common.settings,
      thresholdRule: common.thresholdRuleText,
      threads,
    },
  };
}
