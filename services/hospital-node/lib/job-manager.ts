import { createHash, randomUUID } from 'node:crypto';
import type { JobStatus, JobView } from '../schemas/job.ts';
import { PublicError } from './errors.ts';
import type { StoredJob, JobStore } from './job-store.ts';
import type { TrainPlan } from './plan.ts';

export type SubmitResult =
  | { kind: 'started'; jobId: string }
  /** An identical request for the same run and round: its job, not a new one. */
  | { kind: 'existing'; jobId: string }
  | { kind: 'busy'; jobId: string }
  | { kind: 'closing' };

export type CancelResult =
  | { kind: 'cancelled'; job: JobView }
  /** Finished (done or failed), or already being stopped: nothing to cancel. */
  | { kind: 'not-running'; job: JobView }
  | { kind: 'not-found' };

export interface JobManagerOptions {
  run: (job: JobView, plan: TrainPlan, signal: AbortSignal) => Promise<void>;
  /** The failure's message as answered by GET /train/:jobId (no local data in it). */
  describeError: (error: unknown) => string;
  /** Gets the full error, for the local log only. */
  logError?: (message: string, error: unknown) => void;
  store?: JobStore;
  initial?: readonly StoredJob[];
  /** Finished jobs kept. */
  keep?: number;
  /** A job ended, done or failed (the metrics). */
  onFinished?: (job: JobView) => void;
}

interface Active {
  entry: StoredJob;
  controller: AbortController;
  done: Promise<void>;
}

/** Runs one training job at a time and remembers the last finished ones. */
export class JobManager {
  private readonly entries = new Map<string, StoredJob>();
  private active: Active | undefined;
  private closed = false;
  private saved: Promise<void> = Promise.resolve();
  private readonly keep: number;

  constructor(private readonly options: JobManagerOptions) {
    this.keep = options.keep ?? 50;
    for (const entry of options.initial ?? []) this.entries.set(entry.view.jobId, entry);
    this.prune();
  }

  submit(plan: TrainPlan): SubmitResult {
    if (this.closed) return { kind: 'closing' };
    const key = `${plan.runId}\u0000${plan.round}`;
    const fingerprint = createHash('sha256').update(JSON.stringify(plan)).digest('hex');
    let previous: Promise<void> = Promise.resolve();
    if (this.active) {
      const { view, key: activeKey, fingerprint: activeFingerprint } = this.active.entry;
      if (activeKey !== key) return { kind: 'busy', jobId: view.jobId };
      if (activeFingerprint === fingerprint) return { kind: 'existing', jobId: view.jobId };
      // The same run and round asked again with other settings: the aggregator restarted the
      // round (after a crash of its own) and the running attempt is void. Stop it, then start.
      this.active.controller.abort(
        new PublicError(
          'superseded',
          `superseded: the aggregator started round ${plan.round} again`,
        ),
      );
      previous = this.active.done;
    }
    for (const entry of this.entries.values()) {
      if (entry.key === key && entry.fingerprint === fingerprint && entry.view.status === 'done') {
        return { kind: 'existing', jobId: entry.view.jobId };
      }
    }

    const view: JobView = {
      jobId: randomUUID(),
      runId: plan.runId,
      round: plan.round,
      baseModelId: plan.model.id,
      status: 'queued',
      progress: { epoch: 0, epochs: plan.settings.epochs, step: 0, steps: 0 },
      metrics: null,
      update: null,
      error: null,
      createdAt: new Date().toISOString(),
      finishedAt: null,
    };
    const entry: StoredJob = { view, key, fingerprint };
    this.entries.set(view.jobId, entry);
    const controller = new AbortController();
    const done = previous.then(() => this.execute(entry, plan, controller.signal));
    this.active = { entry, controller, done };
    this.persist();
    return { kind: 'started', jobId: view.jobId };
  }

  get(jobId: string): JobView | undefined {
    return this.entries.get(jobId)?.view;
  }

  /** How many of the jobs remembered are in each state. */
  countByStatus(): Map<JobStatus, number> {
    const counts = new Map<JobStatus, number>();
    for (const { view } of this.entries.values()) {
      counts.set(view.status, (counts.get(view.status) ?? 0) + 1);
    }
    return counts;
  }

  /**
   * Stops the running job at the aggregator's request (its run was cancelled) and waits for it
   * to stop: it ends `failed` with the reason, uploads nothing more.
   */
  async cancel(jobId: string): Promise<CancelResult> {
    const entry = this.entries.get(jobId);
    if (!entry) return { kind: 'not-found' };
    const active = this.active;
    if (active?.entry !== entry || active.controller.signal.aborted) {
      return { kind: 'not-running', job: entry.view };
    }
    active.controller.abort(
      new PublicError('cancelled', 'cancelled: the aggregator cancelled the run'),
    );
    await active.done;
    // It may have finished on its own meanwhile (its update already sent).
    const job = entry.view;
    return job.status === 'done' ? { kind: 'not-running', job } : { kind: 'cancelled', job };
  }

  /** Cancels the running job, if any, and waits for it to stop. */
  async close(): Promise<void> {
    this.closed = true;
    const active = this.active;
    if (active) {
      active.controller.abort(
        new PublicError('cancelled', 'cancelled: the hospital node is shutting down'),
      );
      await active.done;
    }
    await this.saved;
  }

  private async execute(entry: StoredJob, plan: TrainPlan, signal: AbortSignal): Promise<void> {
    const job = entry.view;
    try {
      await this.options.run(job, plan, signal);
    } catch (error) {
      const cause: unknown = signal.aborted ? signal.reason : error;
      job.status = 'failed';
      job.error = this.options.describeError(cause);
      this.options.logError?.(`training job ${job.jobId} failed`, error);
    } finally {
      job.finishedAt = new Date().toISOString();
      if (this.active?.entry === entry) this.active = undefined;
      this.options.onFinished?.(job);
      this.prune();
      this.persist();
    }
  }

  private prune(): void {
    const finished = [...this.entries.values()].filter((e) => e.view.finishedAt !== null);
    for (const entry of finished.slice(0, Math.max(finished.length - this.keep, 0))) {
      this.entries.delete(entry.view.jobId);
    }
  }

  private persist(): void {
    const store = this.options.store;
    if (!store) return;
    this.saved = store.save([...this.entries.values()]).catch((error: unknown) => {
      this.options.logError?.(`could not save the job history to ${store.file}`, error);
    });
  }
}
