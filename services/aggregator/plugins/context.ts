import type { PrismaClient } from '../../../shared/db/index.ts';
import type { AggregatorMetrics } from '../lib/aggregator-metrics.ts';
import type { Authenticator } from '../lib/auth.ts';
import type { EvaluationGrants } from '../lib/evaluation.ts';
import type { ModelStore } from '../lib/model-store.ts';
import type { NodeTunnel } from '../lib/node-tunnel.ts';
import type { RoundSignals } from '../lib/round-signals.ts';
import type { RunCoordinator } from '../lib/run-coordinator.ts';
import type { RunEvents } from '../lib/run-events.ts';
import type { EventStream } from '../lib/sse.ts';

/** Everything the routes use; built once per app by buildApp. */
export interface AggregatorContext {
  prisma: PrismaClient;
  store: ModelStore;
  auth: Authenticator;
  coordinator: RunCoordinator;
  events: RunEvents;
  signals: RoundSignals;
  grants: EvaluationGrants;
  /** Requests waiting for outbound-only nodes (lib/node-tunnel.ts). */
  tunnel: NodeTunnel;
  /** Open event streams, ended when the app closes. */
  streams: Set<EventStream>;
  keepAliveMs: number;
  /** The aggregator's own metrics (GET /metrics). */
  metrics: AggregatorMetrics;
  /** Milliseconds clock of token expiry (AggregatorDeps.now; default Date.now). */
  now: () => number;
}
