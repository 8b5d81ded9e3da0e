/**
 * The hospital node's own Prometheus metrics (docs/metrics.md): local training throughput and
 * the training jobs by state. Counts and rates only: nothing about an image or a patient.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { JobStatusSchema, type JobStatus, type JobView } from '../schemas/job.ts';

const JOB_STATUSES: readonly JobStatus[] = JobStatusSchema.anyOf.map((s) => s.const);

export class HospitalMetrics {
  private readonly imagesPerSecond: Gauge;
  private readonly images: Counter;
  private readonly trainingSeconds: Counter;
  private readonly finished: Counter<'status'>;
  private readonly jobs: Gauge<'state'>;
  private jobStates: () => ReadonlyMap<JobStatus, number> = () => new Map();

  constructor(registry: Registry) {
    const registers = [registry];
    this.imagesPerSecond = new Gauge({
      name: 'fedxray_hospital_training_images_per_second',
      help: 'Training images per second of the last local training (all its epochs)',
      registers,
    });
    this.images = new Counter({
      name: 'fedxray_hospital_training_images_total',
      help: 'Images trained on (every epoch counts each image again)',
      registers,
    });
    this.trainingSeconds = new Counter({
      name: 'fedxray_hospital_training_seconds_total',
      help: 'Seconds spent in local training epochs',
      registers,
    });
    this.finished = new Counter({
      name: 'fedxray_hospital_jobs_finished_total',
      help: 'Training jobs finished, by status (done or failed)',
      labelNames: ['status'],
      registers,
    });
    this.jobs = new Gauge({
      name: 'fedxray_hospital_jobs',
      help: 'Training jobs the node remembers (the running one and the last finished), by state',
      labelNames: ['state'],
      registers,
      collect: () => {
        const states = this.jobStates();
        for (const state of JOB_STATUSES) this.jobs.set({ state }, states.get(state) ?? 0);
      },
    });
  }

  /** Where the jobs by state are read at each scrape (the job manager). */
  observeJobs(states: () => ReadonlyMap<JobStatus, number>): void {
    this.jobStates = states;
  }

  /** A local training ended: `images` trained on in `seconds` of epochs. */
  trained(images: number, seconds: number): void {
    this.images.inc(images);
    this.trainingSeconds.inc(seconds);
    if (seconds > 0) this.imagesPerSecond.set(images / seconds);
  }

  jobFinished(job: Pick<JobView, 'status'>): void {
    this.finished.inc({ status: job.status });
  }
}
