import type { JobView } from '../schemas/job.ts';
import type { AggregatorClient } from './aggregator-client.ts';
import type { LocalEngine } from './engine.ts';
import type { TrainPlan } from './plan.ts';

export interface TrainJobContext {
  client: AggregatorClient;
  engine: LocalEngine;
  hospitalId: string;
  signal: AbortSignal;
  /** The local training ended: images trained on and the seconds its epochs took. */
  onTrained?: (images: number, seconds: number) => void;
}

/**
 * One round of local training: download the global weights, train on the train split, push
 * the update. Updates `job` (status, progress, metrics) as it goes; throws on failure.
 */
export async function runTrainJob(
  job: JobView,
  plan: TrainPlan,
  ctx: TrainJobContext,
): Promise<void> {
  const fullSteps = Math.ceil(ctx.engine.data.train.length / plan.settings.batchSize);
  const steps = Math.min(fullSteps, plan.settings.maxStepsPerEpoch ?? fullSteps);
  job.progress = { epoch: 0, epochs: plan.settings.epochs, step: 0, steps };
  job.status = 'downloading';
  const global = await ctx.client.downloadWeights(plan.model.id, plan.model.sha256, ctx.signal);

  job.status = 'training';
  const result = await ctx.engine.train({
    spec: plan.spec,
    weights: global,
    settings: plan.settings,
    preprocessing: plan.preprocessing,
    schedule: plan.schedule,
    signal: ctx.signal,
    onProgress: (p) => {
      job.progress = { epoch: p.epoch, epochs: p.epochs, step: p.step, steps: p.stepsPerEpoch };
    },
  });
  ctx.onTrained?.(
    result.epochs.reduce((sum, e) => sum + e.images, 0),
    result.epochs.reduce((sum, e) => sum + e.seconds, 0),
  );
  const durationMs = Math.round(result.seconds * 1000);
  job.metrics = {
    loss: result.loss,
    accuracy: result.accuracy,
    numSamples: result.numSamples,
    durationMs,
  };

  job.status = 'uploading';
  job.update = await ctx.client.uploadUpdate(
    plan.runId,
    {
      round: plan.round,
      hospitalId: ctx.hospitalId,
      jobId: job.jobId,
      baseModelId: plan.model.id,
      numSamples: result.numSamples,
      metrics: { loss: result.loss, accuracy: result.accuracy },
      durationMs,
    },
    result.weights,
    ctx.signal,
  );
  job.status = 'done';
}
