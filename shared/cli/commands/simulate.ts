import { availableParallelism } from 'node:os';
import { relative } from 'node:path';
import { classWeightsFromCounts } from '../../data/index.ts';
import { calibrateOnHospitals } from '../../federated/calibration.ts';
import { directoryCheckpoint, fingerprint } from '../../federated/checkpoint.ts';
import {
  CLASS_WEIGHTS_SOURCES,
  runSimulation,
  type ClassWeightsSource,
  type ClassWeightsUsed,
  type ClientShareInfo,
} from '../../federated/simulation.ts';
import {
  createStrategy,
  resolveStrategySpec,
  STRATEGY_NAMES,
  type StrategySpec,
} from '../../federated/strategies.ts';
import { DEFAULT_HISTOGRAM_BINS } from '../../metrics/index.ts';
import { WorkerPoolTrainer } from '../../federated/worker-trainer.ts';
import { toHistoryPoint } from '../../report/history.ts';
import { createProgress } from '../progress.ts';
import {
  choiceOpt,
  flag,
  numberOpt,
  parseCommandArgs,
  UsageError,
  type ParsedArgs,
} from '../options.ts';
import { info } from '../output.ts';
import {
  DP_HELP,
  DP_OPTIONS,
  dpBeforeRound,
  dpReport,
  dpRoundText,
  dpStrategy,
  readDpOptions,
} from '../dp-options.ts';
import { InProcessTrainer } from '../../federated/client-trainer.ts';
import {
  checkKrumRounds,
  describePlan,
  readByzantinePlan,
  readRobustSettings,
  ROBUST_HELP,
  ROBUST_OPTIONS,
  withByzantine,
} from '../robust-options.ts';
import { TRAINING_OPTIONS, readCommonTraining, type CommonTraining } from '../training-options.ts';
import { runTrainingCommand } from '../training-run.ts';

export const SIMULATE_HELP = `fedxray simulate --data DIR --out DIR [--clients 3] [--rounds 2] [--local-epochs 1]
    [--fraction 1] [--max-downloads N] [--partition iid|dirichlet] [--alpha 0.5]
    [--class-weights local|federation] [train options]
  In-process federation: J hospitals with patient-level partitions, T rounds of FedAvg.
  --clients J, --rounds T, --local-epochs E, --batch B, --lr eta, --fraction C,
  --max-downloads S_max (default: rounds, i.e. no limit), --alpha A (Dirichlet, implies
  --partition dirichlet), --workers N (hospitals trained in parallel worker threads; default
  min(cores, clients); results are the same for any N).
  --calibration-fraction F (default 0): each hospital holds out F of its share by patient and
  never trains on it; --threshold-rule is then applied to the pooled score histograms of those
  held-out splits instead of the validation split (e.g. --threshold-rule min-recall:0.97), and
  a temperature is fitted on their pooled NLL curves (model.json calibration, reliability.png).
  --strategy fedavg|fedavgm|median|trimmed-mean|krum (default fedavg): fedavgm adds server
  momentum to the average (--server-momentum 0.9, --server-lr 1), which damps the swings of
  non-IID hospitals; median (also under its older name fedmedian), trimmed-mean and krum resist
  a malicious minority of hospitals: a few bad updates cannot move them far.
  --class-weights local|federation (default local): with --class-balance weights, each hospital
  weights the classes of its loss by its own share's counts (local), or every hospital by one
  set computed from the summed class counts of all hospitals' training images (federation),
  which makes FedAvg optimise the pooled class-weighted loss on skewed (non-IID) shares.
  --max-steps-per-epoch K: each local epoch stops after K steps (a fresh shuffle per round), so
  with --local-epochs 1 every selected hospital takes K steps per round (FedAvg with K local
  steps; still weighted by image counts): less client drift on skewed shares.
  --proximal-mu MU (FedProx; default 0 = FedAvg's plain local training): each hospital adds
  (mu/2)||w - w_global||^2 to its loss, which limits client drift on skewed shares.
  --checkpoint DIR: the global model and round reports are saved there after every round;
  the same command run again continues after the last completed round (fedavg only).
${ROBUST_HELP}
${DP_HELP}
  Other options as for \`fedxray train\`.`;

export async function simulateCommand(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, {
    ...TRAINING_OPTIONS,
    clients: { type: 'string' },
    rounds: { type: 'string' },
    'local-epochs': { type: 'string' },
    fraction: { type: 'string' },
    'max-downloads': { type: 'string' },
    partition: { type: 'string' },
    alpha: { type: 'string' },
    workers: { type: 'string' },
    'calibration-fraction': { type: 'string' },
    strategy: { type: 'string' },
    'server-momentum': { type: 'string' },
    'server-lr': { type: 'string' },
    'class-weights': { type: 'string' },
    checkpoint: { type: 'string' },
    ...ROBUST_OPTIONS,
    ...DP_OPTIONS,
  });
  const clients = numberOpt(args, 'clients', 3, { integer: true, min: 1, max: 100 });
  const rounds = numberOpt(args, 'rounds', 2, { integer: true, min: 1, max: 1000 });
  const localEpochs = numberOpt(args, 'local-epochs', 1, { integer: true, min: 1, max: 100 });
  const fraction = numberOpt(args, 'fraction', 1, { min: 0.01, max: 1 });
  const maxDownloads = numberOpt(args, 'max-downloads', rounds, { integer: true, min: 1 });
  const alpha = numberOpt(args, 'alpha', 0.5, { min: 0.001 });
  const calibrationFraction = numberOpt(args, 'calibration-fraction', 0, { min: 0, max: 0.5 });
  const partition = choiceOpt(
    args,
    'partition',
    ['iid', 'dirichlet'] as const,
    args.values.alpha !== undefined ? 'dirichlet' : 'iid',
  );
  const strategyName = choiceOpt(args, 'strategy', STRATEGY_NAMES, 'fedavg');
  let strategy: StrategySpec;
  try {
    strategy = resolveStrategySpec({
      name: strategyName,
      fraction,
      ...(args.values['server-momentum'] !== undefined && {
        serverMomentum: numberOpt(args, 'server-momentum', 0, { min: 0, max: 0.999 }),
      }),
      ...(args.values['server-lr'] !== undefined && {
        serverLearningRate: numberOpt(args, 'server-lr', 1, { min: 0.01, max: 10 }),
      }),
      ...readRobustSettings(args),
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const common = readCommonTraining(args, localEpochs);
  const dp = readDpOptions(args, {
    strategy: strategyName,
    fraction,
    checkpoint: typeof args.values.checkpoint === 'string',
  });
  const classWeights = readClassWeightsSource(args, common);
  const workers = numberOpt(args, 'workers', Math.min(availableParallelism(), clients), {
    integer: true,
    min: 1,
    max: 64,
  });
  const backend = typeof args.values.backend === 'string' ? args.values.backend : undefined;
  const byzantine = readByzantinePlan(args, clients);
  checkKrumRounds(strategy, clients);

  return runTrainingCommand(
    common,
    backend,
    flag(args, 'json'),
    async ({ data, model, cache, backend: backendInfo }) => {
      const trainer =
        workers > 1
          ? new WorkerPoolTrainer(
              {
                architecture: common.architecture,
                inputSize: common.preprocessing.inputSize,
                width: common.width,
                backend: backendInfo.name,
              },
              workers,
            )
          : undefined;
      const config = {
        clients,
        rounds,
        fraction,
        maxDownloads,
        partition: { scheme: partition, alpha },
        local: common.settings,
        preprocessing: common.preprocessing,
        seed: common.seed,
        calibrationFraction,
        classWeights,
      };
      const checkpointDir =
        typeof args.values.checkpoint === 'string' ? args.values.checkpoint : undefined;
      const checkpoint = checkpointDir
        ? directoryCheckpoint(
            checkpointDir,
            fingerprint({
              config,
              strategy,
              architecture: common.architecture,
              width: common.width,
              train: data.train.map((r) => relative(common.dataDir, r.path)),
              val: data.val.map((r) => relative(common.dataDir, r.path)),
            }),
          )
        : undefined;
      if (byzantine)
        info(
          `Byzantine hospitals: ${describePlan(byzantine)
            .map((b) => `${b.clientId} ${b.attack}`)
            .join(', ')}`,
        );
      let progress = createProgress({ label: 'round', total: 1, enabled: false });
      const seen = new Map<string, number>();
      let dpStop: string | null = null;
      let result: Awaited<ReturnType<typeof runSimulation>>;
      try {
        result = await runSimulation(model, data.train, data.val, config, {
          cache,
          trainer: byzantine
            ? withByzantine(trainer ?? new InProcessTrainer(model, cache), byzantine)
            : trainer,
          strategy: dp
            ? dpStrategy(createStrategy(strategy), dp, common.seed)
            : createStrategy(strategy),
          ...(dp && {
            beforeRound: dpBeforeRound(dp, (reason) => {
              dpStop = reason;
              info(reason);
            }),
          }),
          checkpoint,
          onRoundStart: (round, selected, images) => {
            info(`round ${round}/${rounds}: ${selected.join(', ')}`);
            seen.clear();
            progress = createProgress({ label: `round ${round}`, total: images * localEpochs });
          },
          onClientProgress: (_round, clientId, p) => {
            seen.set(clientId, (p.epoch - 1) * (p.images / p.step) * p.stepsPerEpoch + p.images);
            const done = [...seen.values()].reduce((a, b) => a + b, 0);
            progress.update(
              Math.round(done),
              `${clientId} loss ${p.loss.toFixed(3)} acc ${p.accuracy.toFixed(3)} ${p.imagesPerSecond.toFixed(1)} img/s`,
            );
          },
          onRoundEnd: (r) => {
            progress.done();
            info(
              `round ${r.round}: train loss ${r.trainLoss.toFixed(4)} acc ${r.trainAccuracy.toFixed(4)}` +
                (r.val
                  ? `, val loss ${r.val.loss.toFixed(4)} acc ${r.val.accuracy.toFixed(4)} auc ${r.val.auc.toFixed(4)}`
                  : '') +
                (dp ? dpRoundText(dp, r.round) : '') +
                ` (${r.seconds.toFixed(1)} s)`,
            );
          },
        });
      } finally {
        await trainer?.close();
      }
      for (const p of result.partitions)
        info(
          `${p.clientId}: ${p.images} images (${p.pneumonia} pneumonia), ${p.patients} patients` +
            (p.calibrationImages ? `, ${p.calibrationImages} held out for calibration` : ''),
        );
      const weightsLine = describeClassWeights(
        result.classWeights,
        result.partitions,
        common.settings.classBalancing === 'weights',
      );
      if (weightsLine) info(weightsLine);
      const calibration =
        calibrationFraction > 0
          ? await calibrateOnHospitals(
              model,
              result.calibration,
              { rule: common.thresholdRuleText, bins: DEFAULT_HISTOGRAM_BINS },
              common.preprocessing,
              cache,
            )
          : undefined;
      if (calibration)
        info(
          `threshold ${calibration.threshold.threshold.toFixed(3)} chosen on ${calibration.images} held-out images of ${calibration.hospitals.length} hospitals: ${calibration.threshold.description}`,
        );
      const temperature = calibration?.temperature ?? undefined;
      if (temperature)
        info(
          `${temperature.description}; ECE ${temperature.eceBefore.toFixed(4)} -> ${temperature.eceAfter.toFixed(4)}`,
        );
      return {
        stepLabel: 'round',
        history: result.rounds.map((r) => toHistoryPoint(r.round, r)),
        training: {
          kind: 'federated',
          strategy,
          clients,
          rounds,
          localEpochs,
          fraction,
          maxDownloads,
          partition: { scheme: partition, alpha: partition === 'dirichlet' ? alpha : undefined },
          settings: common.settings,
          thresholdRule: common.thresholdRuleText,
          partitions: result.partitions,
          downloads: result.downloads,
          classWeights: result.classWeights,
          ...(byzantine && { byzantine: describePlan(byzantine) }),
          roundsDetail: result.rounds,
          ...(dp && { privacy: dpReport(dp, result.rounds.length, dpStop) }),
          // The temperature goes to model.json's calibration, not twice into the report.
          ...(calibration
            ? { calibrationFraction, calibration: { ...calibration, temperature: undefined } }
            : {}),
        },
        threshold: calibration?.threshold,
        calibration: temperature,
        json: { classWeights: result.classWeights },
      };
    },
  );
}

function readClassWeightsSource(args: ParsedArgs, common: CommonTraining): ClassWeightsSource {
  const source = choiceOpt(args, 'class-weights', CLASS_WEIGHTS_SOURCES, 'local');
  if (source === 'federation' && common.settings.classBalancing !== 'weights')
    throw new UsageError(
      `--class-weights federation needs --class-balance weights (got ${common.settings.classBalancing})`,
    );
  return source;
}

/** The class weights of the run, for the log; undefined when classes are not weighted. */
function describeClassWeights(
  used: ClassWeightsUsed,
  shares: readonly ClientShareInfo[],
  weighted: boolean,
): string | undefined {
  if (!weighted) return undefined;
  const pair = ([normal, pneumonia]: readonly [number, number]): string =>
    `NORMAL ${normal.toFixed(4)}, PNEUMONIA ${pneumonia.toFixed(4)}`;
  if (used.source === 'local') {
    const each = shares.map(
      (s) => `${s.clientId} ${pair(classWeightsFromCounts([s.images - s.pneumonia, s.pneumonia]))}`,
    );
    return `class weights, each hospital its own share's: ${each.join('; ')}`;
  }
  return (
    `class weights (federation-wide): ${pair(used.weights)}, from the summed class counts of ` +
    `the ${shares.length} hospitals (${used.counts[0]} NORMAL, ${used.counts[1]} PNEUMONIA)`
  );
}
