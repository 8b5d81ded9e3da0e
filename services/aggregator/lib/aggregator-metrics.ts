/**
 * The aggregator's own Prometheus metrics (docs/metrics.md): round durations and outcomes,
 * hospital updates accepted or refused (by reason), and training runs by state.
 */
import type { FastifyBaseLogger } from 'fastify';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { TrainingRunStatus, type PrismaClient } from '../../../shared/db/index.ts';
import type { RunEvent, RunEvents } from './run-events.ts';

/** Seconds: a test round in under one, a real round of local epochs in tens of minutes. */
export const ROUND_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

/** The reason label of an update the aggregation strategy left out (e.g. an update-norm outlier). */
export const STRATEGY_REJECTION = 'strategy';

type RoundOutcome = 'completed' | 'failed' | 'cancelled';

export class AggregatorMetrics {
  private readonly roundDurations: Histogram<'outcome'>;
  private readonly rounds: Counter<'outcome'>;
  private readonly accepted: Counter;
  private readonly rejected: Counter<'reason'>;
  /** When each round in progress started here: `${runId}#${round}`. */
  private readonly started = new Map<string, number>();

  constructor(
    registry: Registry,
    prisma: PrismaClient,
    private readonly log: FastifyBaseLogger,
  ) {
    const registers = [registry];
    this.roundDurations = new Histogram({
      name: 'fedxray_aggregator_round_duration_seconds',
      help: 'Rounds from dispatch to their end, by outcome (completed, failed, cancelled)',
      labelNames: ['outcome'],
      buckets: ROUND_DURATION_BUCKETS,
      registers,
    });
    this.rounds = new Counter({
      name: 'fedxray_aggregator_rounds_total',
      help: 'Rounds ended, by outcome (failed includes rounds that could select no hospital)',
      labelNames: ['outcome'],
      registers,
    });
    this.accepted = new Counter({
      name: 'fedxray_aggregator_updates_accepted_total',
      help: 'Hospital updates accepted (POST /rounds/:runId/updates answered 202)',
      registers,
    });
    this.rejected = new Counter({
      name: 'fedxray_aggregator_updates_rejected_total',
      help:
        'Hospital updates refused, by reason: the error code of the refused upload, or ' +
        `"${STRATEGY_REJECTION}" when the aggregation strategy left an accepted one out`,
      labelNames: ['reason'],
      registers,
    });
    const runs = new Gauge({
      name: 'fedxray_aggregator_runs',
      help: 'Training runs in the database, by state',
      labelNames: ['state'],
      registers,
      // Read at each scrape: the database is the truth (runs outlive the process).
      collect: async () => {
        let counts: Map<TrainingRunStatus, number>;
        try {
          const rows = await prisma.trainingRun.groupBy({
            by: ['status'],
            _count: { _all: true },
            orderBy: { status: 'asc' },
          });
          counts = new Map(rows.map((row) => [row.status, row._count._all]));
        } catch (error) {
          // The last values stay; /metrics still answers while the database is away.
          this.log.warn({ err: error }, 'metrics: cannot count the training runs');
          return;
        }
        for (const state of Object.values(TrainingRunStatus)) {
          runs.set({ state }, counts.get(state) ?? 0);
        }
      },
    });
  }

  /** Follows every run's events (round starts and ends); returns the unsubscribe function. */
  observe(events: RunEvents): () => void {
    return events.subscribeAll((event) => this.onEvent(event));
  }

  updateAccepted(): void {
    this.accepted.inc();
  }

  updateRejected(reason: string): void {
    this.rejected.inc({ reason });
  }

  private onEvent(event: RunEvent): void {
    const round = typeof event.data.round === 'number' ? event.data.round : undefined;
    switch (event.type) {
      case 'round-started':
        if (round !== undefined) this.started.set(`${event.runId}#${round}`, performance.now());
        return;
      case 'round-completed':
        if (round !== undefined) this.roundEnded(`${event.runId}#${round}`, 'completed');
        return;
      case 'round-failed':
        if (round !== undefined) this.roundEnded(`${event.runId}#${round}`, 'failed');
        return;
      case 'run-cancelled':
        for (const key of this.started.keys()) {
          if (key.startsWith(`${event.runId}#`)) this.roundEnded(key, 'cancelled');
        }
        return;
      default:
        // A run's end: a round still recorded as started here will not end any more.
        if (event.type === 'run-completed' || event.type === 'run-failed') {
          for (const key of this.started.keys()) {
            if (key.startsWith(`${event.runId}#`)) this.started.delete(key);
          }
        }
    }
  }

  private roundEnded(key: string, outcome: RoundOutcome): void {
    this.rounds.inc({ outcome });
    const started = this.started.get(key);
    if (started === undefined) return;
    this.started.delete(key);
    this.roundDurations.observe({ outcome }, (performance.now() - started) / 1000);
  }
}
