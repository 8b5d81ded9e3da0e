import type { FastifyInstance } from 'fastify';
import type { PrismaClient } from '../../../shared/db/index.ts';
import type { AggregatorMetrics } from '../lib/aggregator-metrics.ts';
import { EvaluationGrants } from '../lib/evaluation.ts';
import { HospitalClient, type HospitalClientOptions } from '../lib/hospital-client.ts';
import { NodeTunnel } from '../lib/node-tunnel.ts';
import type { ModelStore } from '../lib/model-store.ts';
import { RoundSignals } from '../lib/round-signals.ts';
import { RunCoordinator } from '../lib/run-coordinator.ts';
import { RunEvents } from '../lib/run-events.ts';

export interface CoordinatorOptions extends HospitalClientOptions {
  /** How often nodes are asked about their jobs while a round waits (default 2 s). */
  jobPollMs?: number;
  /** Failed job-status checks in a row after which a node is given up on (default 3). */
  maxMissedPolls?: number;
}

export interface Coordination {
  coordinator: RunCoordinator;
  events: RunEvents;
  signals: RoundSignals;
  grants: EvaluationGrants;
  /** Requests to outbound-only nodes, waiting for their polls (GET /nodes/work). */
  tunnel: NodeTunnel;
  /** Resumes the runs now if the app is ready, else when it is (a standby taking over). */
  resumeWhenReady(): Promise<void>;
}

/**
 * The round loop and what it shares with the routes (events, update signals, evaluation
 * grants). Runs left running are resumed once the app is ready, by the active aggregator
 * only; closing the app stops the loops without touching their state.
 */
export function createCoordination(
  app: FastifyInstance,
  prisma: PrismaClient,
  store: ModelStore,
  options: CoordinatorOptions,
  role: { readonly active: boolean },
  metrics?: AggregatorMetrics,
): Coordination {
  const events = new RunEvents();
  const signals = new RoundSignals();
  const grants = new EvaluationGrants();
  const tunnel = new NodeTunnel();
  const coordinator = new RunCoordinator({
    prisma,
    store,
    events,
    signals,
    grants,
    client: new HospitalClient({ ...options, tunnel }),
    log: app.log,
    jobPollMs: options.jobPollMs ?? 2_000,
    maxMissedPolls: options.maxMissedPolls ?? 3,
    metrics,
  });
  metrics?.observe(events);
  let ready = false;
  app.addHook('onReady', async () => {
    ready = true;
    if (role.active) await coordinator.resume();
  });
  const resumeWhenReady = async (): Promise<void> => {
    if (ready) await coordinator.resume();
  };
  return { coordinator, events, signals, grants, tunnel, resumeWhenReady };
}
